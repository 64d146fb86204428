/**
 * Conformance, malformed packets and protocol errors (spec 1.5, 2.1, 2.2,
 * 4.13): reserved flag bits, QoS 3, DUP at QoS 0, packet identifier 0, bad
 * UTF-8 and U+0000, an oversized Remaining Length, empty SUBSCRIBE, reserved
 * packet types, and on 5.0 repeated properties. Each closes the connection;
 * on 5.0 after a DISCONNECT 0x81 (Malformed Packet) or 0x82 (Protocol Error).
 * MQTT 3.1.1 and 5.0. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId, VERSIONS, type Version } from '../helpers/clients.js';
import { connectBytes, RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, expectServerClose, subscribe, topic } from './support.js';

const b = brokerForSuite();

/** A packet from its first byte and body (Remaining Length of one byte). */
function frame(first: number, body: number[] | Buffer): Buffer {
  const bytes = Buffer.from(body);
  assert.ok(bytes.length < 128);
  return Buffer.concat([Buffer.from([first, bytes.length]), bytes]);
}

/** The body of a PUBLISH to `name` (raw topic bytes), optional packet id, 5.0 property section, payload 'x'. */
function publishBody(version: Version, name: Buffer, packetId?: number, properties: number[] = []): Buffer {
  const parts = [Buffer.from([name.length >> 8, name.length & 0xff]), name];
  if (packetId !== undefined) parts.push(Buffer.from([packetId >> 8, packetId & 0xff]));
  if (version === 5) parts.push(Buffer.from([properties.length, ...properties]));
  parts.push(Buffer.from('x'));
  return Buffer.concat(parts);
}

for (const version of VERSIONS) {
  describe(`12 malformed (${label(version)})`, () => {
    const cases: Array<[string, () => Buffer, number]> = [
      [`${rule(version, '3.3.1-4')} a PUBLISH with QoS 3`, () => frame(0x36, publishBody(version, Buffer.from('a/b'), 1)), 0x81],
      [`${rule(version, '3.3.1-2')} a QoS 0 PUBLISH with DUP set`, () => frame(0x38, publishBody(version, Buffer.from('a/b'))), 0x81],
      [
        `${rule(version, '2.3.1-1', '2.2.1-3')} a QoS 1 PUBLISH with packet identifier 0`,
        () => frame(0x32, publishBody(version, Buffer.from('a/b'), 0)),
        0x81,
      ],
      [
        `${rule(version, '1.5.3-1', '1.5.4-1')} a topic that is not valid UTF-8`,
        () => frame(0x30, publishBody(version, Buffer.from([0x61, 0xc3, 0x28]))),
        0x81,
      ],
      [
        `${rule(version, '1.5.3-2', '1.5.4-2')} a topic holding U+0000`,
        () => frame(0x30, publishBody(version, Buffer.from([0x61, 0x00, 0x62]))),
        0x81,
      ],
      [`${rule(version, '3.6.1-1')} a PUBREL with reserved flags other than 0010`, () => frame(0x60, [0, 1]), 0x81],
      [`${rule(version, '3.8.1-1')} a SUBSCRIBE with reserved flags other than 0010`, () => subscribeWithFlags(version, 0x80), 0x81],
      [`${rule(version, '3.10.1-1')} an UNSUBSCRIBE with reserved flags other than 0010`, () => unsubscribeWithFlags(version, 0xa0), 0x81],
      [
        `${rule(version, '3.8.3-3', '3.8.3-2')} a SUBSCRIBE without any topic filter`,
        () => frame(0x82, version === 5 ? [0, 9, 0] : [0, 9]),
        0x82,
      ],
      [`${rule(version, '3.10.3-2')} an UNSUBSCRIBE without any topic filter`, () => frame(0xa2, version === 5 ? [0, 9, 0] : [0, 9]), 0x82],
      ['§1.5.5 a Remaining Length longer than four bytes', () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 0x81],
      [`${rule(version, '2.2.2-2', '2.1.3-1')} a packet of the reserved type 0`, () => Buffer.from([0x00, 0x00]), 0x81],
    ];
    for (const [name, bytes, reasonCode] of cases) {
      test(`${name} closes the connection${version === 5 ? ` (DISCONNECT 0x${reasonCode.toString(16)})` : ''}`, async () => {
        const c = await connectRaw(b.port, version);
        c.sendBytes(bytes());
        await expectServerClose(c, version, reasonCode);
      });
    }

    test(`${rule(version, '3.1.0-1')} a first packet that is not CONNECT closes the connection unanswered`, async () => {
      const c = await RawClient.connect(b.port, version);
      c.send({ cmd: 'pingreq' }, version);
      const { packets } = await c.expectClose();
      assert.deepEqual(packets, []);
    });

    test(`${rule(version, '3.1.2-3')} a CONNECT with the reserved flag set closes the connection`, async () => {
      const c = await RawClient.connect(b.port, version);
      const bytes = connectBytes({ protocolId: 'MQTT', protocolVersion: version, clientId: uniqueId('rsv'), clean: true, keepalive: 0 });
      let flagsAt = 1;
      while (((bytes[flagsAt] as number) & 0x80) !== 0) flagsAt++;
      flagsAt += 1 + 2 + 4 + 1; // remaining length end, name length, 'MQTT', level
      bytes[flagsAt] = (bytes[flagsAt] as number) | 0x01;
      c.sendBytes(bytes);
      await c.expectClose();
      const connack = c.received.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket | undefined;
      if (connack) assert.ok((connack.reasonCode ?? connack.returnCode ?? 0) !== 0, 'not accepted');
    });

    test('a malformed packet from one client leaves the others untouched', async () => {
      const t = topic('isolated');
      const good = await connectRaw(b.port, version);
      await subscribe(good, t);
      const bad = await connectRaw(b.port, version);
      bad.sendBytes(frame(0x36, publishBody(version, Buffer.from(t), 1)));
      await bad.expectClose();
      await expectNoPublish(good);
    });
  });
}

describe('12 malformed (MQTT 5.0 only)', () => {
  test('§2.2.2.2 a property that may appear once, given twice (Content Type), is a Protocol Error (0x82)', async () => {
    const c = await connectRaw(b.port, 5);
    const contentType = [0x03, 0x00, 0x01, 0x61];
    c.sendBytes(frame(0x30, publishBody(5, Buffer.from('a/b'), undefined, [...contentType, ...contentType])));
    await expectServerClose(c, 5, 0x82);
  });

  test('[MQTT-3.14.1-1] a DISCONNECT with reserved flags set is a Malformed Packet (0x81)', async () => {
    const c = await connectRaw(b.port, 5);
    c.sendBytes(Buffer.from([0xe1, 0x00]));
    await expectServerClose(c, 5, 0x81);
  });

  test('[MQTT-3.15.1-1] an AUTH with reserved flags set is a Malformed Packet (0x81)', async () => {
    const c = await connectRaw(b.port, 5);
    c.sendBytes(Buffer.from([0xf1, 0x00]));
    await expectServerClose(c, 5, 0x81);
  });

  test('[MQTT-3.3.2-2] a wildcard in the topic of a PUBLISH is Topic Name Invalid (0x90) with a Reason String', async () => {
    const c = await connectRaw(b.port, 5);
    c.sendBytes(frame(0x30, publishBody(5, Buffer.from('a/#'))));
    const disconnect = await expectServerClose(c, 5, 0x90);
    assert.ok(disconnect?.properties?.reasonString);
  });
});

function subscribeWithFlags(version: Version, first: number): Buffer {
  const bytes = Buffer.from(
    mqttPacket.generate({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'a', qos: 0 }] }, { protocolVersion: version }),
  );
  bytes[0] = first;
  return bytes;
}

function unsubscribeWithFlags(version: Version, first: number): Buffer {
  const bytes = Buffer.from(
    mqttPacket.generate({ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a'] }, { protocolVersion: version }),
  );
  bytes[0] = first;
  return bytes;
}
