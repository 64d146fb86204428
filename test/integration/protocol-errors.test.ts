/**
 * Integration: malformed packets and protocol violations after (or in) the
 * CONNECT close the connection (5.0: at most a DISCONNECT with a failure
 * reason first) and are not processed — under MQTT 3.1.1 and 5.0. Bytes the
 * codec will not produce are written by hand. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { IDisconnectPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, uniqueId, uniqueTopic, VERSIONS, type TestClient, type Version } from '../helpers/clients.js';
import { connectBytes, describe as describePacket, RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 1 });

/** The server closes; 5.0 may first send one DISCONNECT with a failure reason (`reasons` if given). */
async function expectProtocolClose(raw: RawClient, version: Version, reasons?: number[]): Promise<void> {
  const { packets } = await raw.expectClose();
  const seen = packets.map(describePacket).join('; ');
  if (version === 4) {
    assert.deepEqual(packets.map(describePacket), [], '3.1.1 has no server DISCONNECT');
    return;
  }
  assert.ok(packets.length <= 1, seen);
  const d = packets[0] as IDisconnectPacket | undefined;
  if (!d) return;
  assert.equal(d.cmd, 'disconnect', seen);
  assert.ok((d.reasonCode ?? 0) >= 0x80, seen);
  if (reasons)
    assert.ok(
      reasons.includes(d.reasonCode ?? 0),
      `reason 0x${(d.reasonCode ?? 0).toString(16)} not in ${reasons.map((r) => `0x${r.toString(16)}`).join(', ')}`,
    );
}

async function connected(version: Version): Promise<RawClient> {
  const raw = await RawClient.connect(b.port, version);
  const connack = await raw.handshake();
  assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0);
  return raw;
}

/** Fixed header + body: `type` byte, then the remaining length (one byte: bodies here are short). */
function frame(first: number, body: number[]): Buffer {
  assert.ok(body.length < 128);
  return Buffer.from([first, body.length, ...body]);
}

function str(s: string): number[] {
  const bytes = [...Buffer.from(s)];
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** Subscribes a watcher to `topic`, runs `act`, then proves nothing was routed with a sentinel. */
async function notRouted(version: Version, topic: string, act: () => Promise<void>): Promise<void> {
  const watcher: TestClient = await connectClient(b.port, { version });
  await watcher.subscribeAsync(topic, { qos: 1 });
  await act();
  const pub = await connectClient(b.port, { version });
  await pub.publishAsync(topic.replace('#', 'sentinel'), 'sentinel', { qos: 1 });
  const m = await nextMessage(watcher);
  assert.equal(m.payload.toString(), 'sentinel', `a violating packet was routed: ${m.topic} ${m.payload.toString()}`);
}

for (const version of VERSIONS) {
  const props = version === 5 ? [0] : [];
  describe(`protocol errors (${label(version)})`, () => {
    test(`${rule(version, '3.1.2-3', '3.1.2-3')} CONNECT with the reserved flag set is refused and closed`, async () => {
      const raw = await RawClient.connect(b.port, version);
      raw.sendBytes(
        connectBytes(
          { protocolId: 'MQTT', protocolVersion: version, clientId: uniqueId('rsv'), clean: true, keepalive: 0 },
          { flags: (f) => f | 0x01 },
        ),
      );
      const { packets } = await raw.expectClose();
      for (const p of packets) {
        assert.equal(p.cmd, 'connack', describePacket(p));
        const code = version === 5 ? (p as mqttPacket.IConnackPacket).reasonCode : (p as mqttPacket.IConnackPacket).returnCode;
        assert.notEqual(code, 0, 'CONNECT with reserved flag 1 was accepted');
      }
    });

    test(`${rule(version, '3.3.2-2', '3.3.2-2')} PUBLISH with a wildcard in the topic name closes the connection`, async () => {
      const base = uniqueTopic('wild');
      await notRouted(version, `${base}/#`, async () => {
        const raw = await connected(version);
        raw.sendBytes(frame(0x30, [...str(`${base}/+`), ...props, ...Buffer.from('x')]));
        await expectProtocolClose(raw, version, [0x90, 0x82, 0x81]);
      });
    });

    test(`${rule(version, '3.3.1-4', '3.3.1-4')} PUBLISH with QoS 3 closes the connection`, async () => {
      const base = uniqueTopic('qos3');
      await notRouted(version, `${base}/#`, async () => {
        const raw = await connected(version);
        raw.sendBytes(frame(0x36, [...str(`${base}/x`), 0x00, 0x01, ...props, ...Buffer.from('x')]));
        await expectProtocolClose(raw, version, [0x81]);
      });
    });

    test(`${rule(version, '2.3.1-1', '2.2.1-3')} QoS 1 PUBLISH with packet id 0 closes the connection`, async () => {
      const base = uniqueTopic('pid0');
      await notRouted(version, `${base}/#`, async () => {
        const raw = await connected(version);
        raw.sendBytes(frame(0x32, [...str(`${base}/x`), 0x00, 0x00, ...props, ...Buffer.from('x')]));
        await expectProtocolClose(raw, version);
      });
    });

    test(`[MQTT-4.7.3-1] PUBLISH with an empty topic name${version === 5 ? ' and no Topic Alias' : ''} closes the connection`, async () => {
      const raw = await connected(version);
      raw.sendBytes(frame(0x30, [...str(''), ...props, ...Buffer.from('x')]));
      await expectProtocolClose(raw, version, [0x82, 0x90, 0x81]);
    });

    test(`${rule(version, '3.8.1-1', '3.8.1-1')} SUBSCRIBE with reserved flags 0000 closes the connection`, async () => {
      const raw = await connected(version);
      const bytes = Buffer.from(
        mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b', qos: 0 }] }, { protocolVersion: version }),
      );
      bytes[0] = 0x80;
      raw.sendBytes(bytes);
      await expectProtocolClose(raw, version, [0x81]);
    });

    test(`${rule(version, '3.8.3-3', '3.8.3-2')} SUBSCRIBE without any topic filter closes the connection`, async () => {
      const raw = await connected(version);
      raw.sendBytes(frame(0x82, [0x00, 0x01, ...props]));
      await expectProtocolClose(raw, version, [0x81, 0x82]);
    });

    test(`${rule(version, '3.10.3-2', '3.10.3-2')} UNSUBSCRIBE without any topic filter closes the connection`, async () => {
      const raw = await connected(version);
      raw.sendBytes(frame(0xa2, [0x00, 0x01, ...props]));
      await expectProtocolClose(raw, version, [0x81, 0x82]);
    });

    test('a packet of reserved type 0 closes the connection', async () => {
      const raw = await connected(version);
      raw.sendBytes(Buffer.from([0x00, 0x00]));
      await expectProtocolClose(raw, version, [0x81, 0x82]);
    });

    if (version === 5) {
      test('[MQTT-3.3.2-9] a Topic Alias above the announced Topic Alias Maximum gets DISCONNECT 0x94', async () => {
        const raw = await RawClient.connect(b.port, 5);
        const connack = await raw.handshake();
        const max = connack.properties?.topicAliasMaximum ?? 0;
        raw.send({
          cmd: 'publish',
          topic: 'alias/t',
          payload: Buffer.from('x'),
          qos: 0,
          retain: false,
          dup: false,
          properties: { topicAlias: max + 1 },
        });
        await expectProtocolClose(raw, 5, [0x94]);
      });

      test('[MQTT-3.3.2-8] Topic Alias 0 gets DISCONNECT 0x94', async () => {
        const raw = await connected(5);
        raw.sendBytes(frame(0x30, [...str('alias/zero'), 0x03, 0x23, 0x00, 0x00, ...Buffer.from('x')]));
        await expectProtocolClose(raw, 5, [0x94]);
      });

      test('(§3.3.2.3.4) an empty topic name with an unknown Topic Alias is a protocol error', async () => {
        const raw = await RawClient.connect(b.port, 5);
        const connack = await raw.handshake();
        if ((connack.properties?.topicAliasMaximum ?? 0) === 0) return;
        raw.sendBytes(frame(0x30, [...str(''), 0x03, 0x23, 0x00, 0x01, ...Buffer.from('x')]));
        await expectProtocolClose(raw, 5, [0x82, 0x94]);
      });

      test('(§3.14.2.2.2) DISCONNECT raising Session Expiry Interval from 0 is a protocol error; no session is kept', async () => {
        const clientId = uniqueId('sei');
        const raw = await RawClient.connect(b.port, 5);
        await raw.handshake({ clientId, clean: true });
        raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
        await expectProtocolClose(raw, 5, [0x82]);
        const again = await RawClient.connect(b.port, 5);
        const connack = await again.handshake({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
        assert.equal(connack.sessionPresent, false);
      });
    }
  });
}
