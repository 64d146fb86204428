/**
 * Integration: CONNECT handling over TCP (CONNACK fields, client id
 * assignment and refusal, protocol level, CONNECT ordering rules, connect
 * timeout), under MQTT 3.1.1 and 5.0. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { brokerForSuite, startBroker } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueId, uniqueTopic, VERSIONS, type Version } from '../helpers/clients.js';
import { closeAllRawClients, connectBytes, describe as describePacket, RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';

const CONNECT_TIMEOUT_MS = 1_000;

const b = brokerForSuite({ connectTimeoutMs: CONNECT_TIMEOUT_MS });

function connackCode(connack: mqttPacket.IConnackPacket, version: Version): number | undefined {
  return version === 5 ? connack.reasonCode : connack.returnCode;
}

for (const version of VERSIONS) {
  describe(`connect (${label(version)})`, () => {
    test(`${rule(version, '3.2.2-1', '3.2.2-2')} clean CONNECT gets CONNACK accepted with session present 0`, async () => {
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake({ clean: true });
      assert.equal(connackCode(connack, version), 0);
      assert.equal(connack.sessionPresent, false);
      // The connection is usable: PINGREQ gets PINGRESP.
      raw.send({ cmd: 'pingreq' });
      await raw.expectPacket('pingresp');

      const client = await connectClient(b.port, { version });
      assert.equal(client.connected, true);
      assert.equal(client.connack.sessionPresent, false);
    });

    if (version === 5) {
      test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16] empty client id: CONNACK carries a unique Assigned Client Identifier', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 2; i++) {
          const raw = await RawClient.connect(b.port, 5);
          const connack = await raw.handshake({ clientId: '', clean: true });
          assert.equal(connack.reasonCode, 0);
          const assigned = connack.properties?.assignedClientIdentifier;
          assert.equal(typeof assigned, 'string', `no Assigned Client Identifier in ${describePacket(connack)}`);
          assert.ok((assigned as string).length > 0);
          ids.push(assigned as string);
        }
        assert.notEqual(ids[0], ids[1]);
      });
    } else {
      test('[MQTT-3.1.3-6] empty client id with clean session 1 is accepted', async () => {
        const raw = await RawClient.connect(b.port, 4);
        const connack = await raw.handshake({ clientId: '', clean: true });
        assert.equal(connack.returnCode, 0);
        assert.equal(connack.sessionPresent, false);
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp');
      });

      test('[MQTT-3.1.3-8] empty client id with clean session 0 gets CONNACK 0x02 and the connection closes', async () => {
        const raw = await RawClient.connect(b.port, 4);
        raw.sendBytes(
          connectBytes({ protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 }, { cleanStart: false }),
        );
        const connack = await raw.expectPacket('connack');
        assert.equal(connack.returnCode, 2);
        assert.equal(connack.sessionPresent, false);
        await raw.expectClose();
      });

      test('[MQTT-3.1.2-2] unsupported protocol level (6) gets CONNACK 0x01 and the connection closes', async () => {
        const raw = await RawClient.connect(b.port, 4);
        raw.sendBytes(
          connectBytes(
            { protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueId('lvl'), clean: true, keepalive: 0 },
            { protocolLevel: 6 },
          ),
        );
        const closed = await raw.expectClose();
        const connack = raw.received.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket | undefined;
        assert.ok(connack, `no CONNACK before close (received: ${raw.received.map(describePacket).join('; ') || 'nothing'})`);
        assert.equal(connack.returnCode, 1, describePacket(connack));
        assert.deepEqual(
          closed.packets.filter((p) => p.cmd !== 'connack'),
          [],
        );
      });
    }

    test('[MQTT-3.1.0-2] a second CONNECT on the connection closes it', async () => {
      const raw = await RawClient.connect(b.port, version);
      const clientId = uniqueId('twice');
      const connack = await raw.handshake({ clientId });
      assert.equal(connackCode(connack, version), 0);
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0 });
      const { packets } = await raw.expectClose();
      // [MQTT-3.2.0-2] (5.0): no second CONNACK. A 5.0 server may say why with DISCONNECT 0x82.
      assert.equal(packets.filter((p) => p.cmd === 'connack').length, 0, packets.map(describePacket).join('; '));
      for (const p of packets) {
        assert.equal(p.cmd, 'disconnect', describePacket(p));
        assert.equal(version, 5, '3.1.1 has no server DISCONNECT');
        assert.equal((p as mqttPacket.IDisconnectPacket).reasonCode, 0x82);
      }
    });

    test('[MQTT-3.1.0-1] a first packet that is not CONNECT closes the connection and is not processed', async () => {
      const topic = uniqueTopic('first');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 0 });
      const raw = await RawClient.connect(b.port, version);
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('before-connect'), qos: 0, retain: false, dup: false }, version);
      raw.send({ cmd: 'pingreq' }, version);
      const { packets } = await raw.expectClose();
      assert.deepEqual(
        packets.map((p) => p.cmd),
        [],
        'nothing may be answered before CONNECT',
      );

      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'sentinel', { qos: 1 });
      const first = await nextMessage(sub);
      assert.equal(first.payload.toString(), 'sentinel');
      await expectNoMessage(sub, 150);
    });

    test('a partial CONNECT is closed after connectTimeoutMs', async () => {
      const bytes = Buffer.from(
        mqttPacket.generate(
          {
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: version,
            clientId: uniqueId('partial'),
            clean: true,
            keepalive: 0,
          },
          { protocolVersion: version },
        ),
      );
      const raw = await RawClient.connect(b.port, version);
      raw.sendBytes(bytes.subarray(0, Math.floor(bytes.length / 2)));
      const { at, packets } = await raw.expectClose(CONNECT_TIMEOUT_MS + 3_000);
      assert.deepEqual(
        packets.map((p) => p.cmd),
        [],
      );
      assert.ok(at >= CONNECT_TIMEOUT_MS - 50, `closed after ${at} ms, before connectTimeoutMs ${CONNECT_TIMEOUT_MS}`);
      assert.ok(at <= CONNECT_TIMEOUT_MS + 1_500, `closed after ${at} ms`);
    });
  });
}

describe('connect (any version)', () => {
  test('a silent socket is closed after connectTimeoutMs', async () => {
    const raw = await RawClient.connect(b.port, 4);
    const { at, packets } = await raw.expectClose(CONNECT_TIMEOUT_MS + 3_000);
    assert.deepEqual(packets, []);
    assert.ok(at >= CONNECT_TIMEOUT_MS - 50, `closed after ${at} ms, before connectTimeoutMs ${CONNECT_TIMEOUT_MS}`);
    assert.ok(at <= CONNECT_TIMEOUT_MS + 1_500, `closed after ${at} ms`);
  });

  test('a CONNECT received in time is answered even when the actor hosts are still starting (connectTimeoutMs only bounds the wait for CONNECT)', async () => {
    const own = await startBroker({ workers: 2, connectTimeoutMs: 100 }, { waitForHosts: false });
    try {
      const raw = await RawClient.connect(own.port, 4);
      const connack = await raw.handshake({ keepalive: 0 });
      assert.equal(connack.returnCode, 0);
    } finally {
      await closeAllRawClients();
      await own.close();
    }
  });

  test('a connection that sent CONNECT in time is not closed by the connect timeout', async () => {
    const raw = await RawClient.connect(b.port, 4);
    const connack = await raw.handshake({ keepalive: 0 });
    assert.equal(connack.returnCode, 0);
    // Still answering well past the connect deadline.
    await new Promise((r) => setTimeout(r, CONNECT_TIMEOUT_MS + 600));
    raw.send({ cmd: 'pingreq' });
    await raw.expectPacket('pingresp');
    assert.equal(raw.closed, false);
  });
});
