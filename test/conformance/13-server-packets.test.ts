/**
 * Conformance, MQTT 5.0: every packet the server sends stays within the
 * client's Maximum Packet Size (spec 3.1.2.11.4): the Reason String (and User
 * Properties) are left out first, a CONNACK leaves out the properties that
 * restate their default, and a packet still too large is not sent (CONNACK
 * 0x95 or DISCONNECT 0x95 when that fits, else a close). Also the Reason
 * Strings of the DISCONNECTs the main thread writes (0x81 framing, 0x95
 * oversized packet). One broker for the file, plus one with an on_auth_m5.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IDisconnectPacket, type Packet } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId } from '../helpers/clients.js';
import { varint } from '../hostile/wire.js';
import { RawClient } from '../helpers/raw-client.js';
import { connectRaw, expectServerClose, subscribe, topic } from './support.js';

const MAX_IN = 1024;

const b = brokerForSuite({ maxIncomingPacketSize: MAX_IN });
const withAuth = brokerForSuite(
  {},
  {
    plugins: [{ on_auth_m5: () => ({ ok: { reason_code: 'continue_authentication', auth_data: Buffer.alloc(100, 1) } }) }],
  },
);

/** The fixed header of a QoS 0 PUBLISH one byte over our maximum, without its body. */
function publishHeaderOverMax(): Buffer {
  return Buffer.from([0x30, ...varint(MAX_IN + 1)]);
}

/** The size of `packet` on the wire. */
function size(packet: Packet): number {
  return mqttPacket.generate(packet, { protocolVersion: 5 }).length;
}

describe("13 server packets within the client's Maximum Packet Size (MQTT 5.0)", () => {
  test('[MQTT-3.1.2-24] [MQTT-3.2.2-19] a CONNACK too large as it is leaves out the properties that restate their default', async () => {
    const roomy = await connectRaw(b.port, 5);
    assert.equal(roomy.connack.properties?.retainAvailable, true, 'advertised when there is room');
    const small = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 24 } });
    assert.ok(size(small.connack) <= 24, `CONNACK of ${size(small.connack)} bytes`);
    assert.equal(small.connack.properties?.retainAvailable, undefined);
    assert.equal(small.connack.properties?.maximumPacketSize, MAX_IN, 'what differs from the default stays');
  });

  test('[MQTT-3.1.2-24] a CONNACK that cannot fit is not sent: CONNACK 0x95 when that fits, else a close', async () => {
    const refused = await RawClient.connect(b.port, 5);
    const connack = await refused.handshake({ properties: { maximumPacketSize: 8 } });
    assert.equal(connack.reasonCode, 0x95);
    assert.equal(connack.properties, undefined, 'no Reason String that would not fit');
    await refused.expectClose();
    const closed = await RawClient.connect(b.port, 5);
    closed.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 0,
      clientId: uniqueId('tiny'),
      properties: { maximumPacketSize: 4 },
    });
    assert.deepEqual((await closed.expectClose()).packets, []);
  });

  test('[MQTT-3.9.2-1] a SUBACK leaves out its Reason String to fit', async () => {
    const c = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 24 } });
    const suback = await subscribe(c, [{ topic: 'a/#/b', qos: 0 }]);
    assert.deepEqual(suback.granted, [0x8f]);
    assert.equal(suback.properties, undefined);
  });

  test('[MQTT-3.1.2-24] a SUBACK too large even without its Reason String is not sent: DISCONNECT 0x95 and a close', async () => {
    const c = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 64 } });
    const base = topic('manysubs');
    c.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: Array.from({ length: 100 }, (_, i) => ({ topic: `${base}/${i}`, qos: 0 as const })),
    });
    const disconnect = (await expectServerClose(c, 5, 0x95)) as IDisconnectPacket;
    assert.ok(size(disconnect) <= 64);
    assert.equal(
      c.received.some((p) => p.cmd === 'suback'),
      false,
      'no SUBACK',
    );
  });

  test('[MQTT-3.14.2-3] a session DISCONNECT leaves out its Reason String to fit', async () => {
    const c = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 24 } });
    c.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    const disconnect = (await expectServerClose(c, 5, 0x90)) as IDisconnectPacket;
    assert.equal(disconnect.properties, undefined);
  });

  test('[MQTT-3.14.2-3] DISCONNECT 0x95 for a packet over our maximum carries a Reason String, left out when it would not fit', async () => {
    const told = await connectRaw(b.port, 5);
    told.sendBytes(publishHeaderOverMax());
    const explained = (await expectServerClose(told, 5, 0x95)) as IDisconnectPacket;
    assert.ok(explained.properties?.reasonString, 'a Reason String');
    const small = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 24, requestProblemInformation: false } });
    small.sendBytes(publishHeaderOverMax());
    const bare = (await expectServerClose(small, 5, 0x95)) as IDisconnectPacket;
    assert.equal(bare.properties, undefined);
  });

  test('[MQTT-3.14.2-3] DISCONNECT 0x81 for bad framing carries a Reason String, whatever Request Problem Information says', async () => {
    const c = await connectRaw(b.port, 5, { properties: { requestProblemInformation: false } });
    c.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    const disconnect = (await expectServerClose(c, 5, 0x81)) as IDisconnectPacket;
    assert.match(disconnect.properties?.reasonString ?? '', /remaining length/);
  });

  test('[MQTT-3.1.2-24] an AUTH challenge that cannot fit is not sent: CONNACK 0x95', async () => {
    const c = await RawClient.connect(withAuth.port, 5);
    c.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 0,
      clientId: uniqueId('bigauth'),
      properties: { maximumPacketSize: 64, authenticationMethod: 'TOKEN' },
    });
    const connack = await c.expectPacket('connack');
    assert.equal(connack.reasonCode, 0x95);
    await c.expectClose();
  });
});
