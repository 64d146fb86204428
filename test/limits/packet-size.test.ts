/**
 * Limits: maxIncomingPacketSize (checked from the fixed header, before the
 * body arrives, for a CONNECT and for a PUBLISH on a live session) and
 * maxOutgoingPacketSize (4096, above maxIncomingPacketSize: big messages come
 * from broker.publish; a message over the cap is skipped for that client,
 * counted, and still reaches others), under MQTT 3.1.1 and 5.0. The client's
 * own Maximum Packet Size is covered in test/conformance/09-flow-control.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt-packet';
import { varintSize, writeVarint } from '../../src/shared/codec/publish.js';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';

const MAX_IN = 2048;
const MAX_OUT = 4096;

const b = brokerForSuite({ workers: 1, maxIncomingPacketSize: MAX_IN, maxOutgoingPacketSize: MAX_OUT });

/** A fixed header only: packet type byte and a Remaining Length of `remaining`, no body. */
function fixedHeader(typeByte: number, remaining: number): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(remaining));
  out[0] = typeByte;
  writeVarint(out, 1, remaining);
  return out;
}

for (const version of VERSIONS) {
  describe(label(version), () => {
    test(`maxIncomingPacketSize: a PUBLISH just under the limit (${MAX_IN} bytes) is delivered`, async () => {
      const topic = uniqueTopic('size');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 1 });
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      const payload = Buffer.alloc(MAX_IN - 100, 0x61);
      raw.send({ cmd: 'publish', topic, payload, qos: 1, messageId: 7, retain: false, dup: false });
      const ack = await raw.expectPacket('puback');
      assert.equal(ack.messageId, 7);
      const m = await nextMessage(sub, (x) => x.topic === topic);
      assert.equal(m.payload.length, payload.length);
    });

    test('maxIncomingPacketSize: a CONNECT over the limit is refused from its fixed header alone (connection closed, no session)', async () => {
      const raw = await RawClient.connect(b.port, version);
      raw.sendBytes(fixedHeader(0x10, MAX_IN + 1)); // the body never comes
      const closed = await raw.expectClose();
      // 5.0 allows CONNACK 0x95 or a close before a session exists; 3.1.1 only a close.
      for (const p of closed.packets) {
        assert.equal(p.cmd, 'connack', `only a CONNACK may come, got ${p.cmd}`);
        if (version === 5) assert.equal((p as { reasonCode?: number }).reasonCode, 0x95);
      }
      if (version === 4) assert.deepEqual(closed.packets, []);
    });

    test(`maxIncomingPacketSize: a PUBLISH over the limit on a live session is answered from its fixed header alone${version === 5 ? ' with DISCONNECT 0x95 [MQTT-3.2.2-15] §3.2.2.3.6' : ' by a close'}`, async () => {
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake();
      if (version === 5) assert.equal(connack.properties?.maximumPacketSize, MAX_IN, 'CONNACK advertises maxIncomingPacketSize');
      raw.sendBytes(fixedHeader(0x30, MAX_IN + 1)); // QoS 0 PUBLISH header, no body
      const closed = await raw.expectClose();
      if (version === 5) {
        const d = closed.packets.find((p): p is IDisconnectPacket => p.cmd === 'disconnect');
        assert.ok(d, 'DISCONNECT before the close');
        assert.equal(d.reasonCode, 0x95);
      } else {
        assert.deepEqual(closed.packets, []);
      }
    });

    test(`maxOutgoingPacketSize: a message over the cap (${MAX_OUT}) is skipped for the subscriber, not a disconnect; a smaller one after it comes`, async () => {
      const topic = uniqueTopic('out');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 1 });
      const before = (await b.broker.stats()).hosts.reduce((n, h) => n + h.drops.packetTooLarge, 0);
      // From the embedding API: a client could not send it past maxIncomingPacketSize (2048).
      await b.broker.publish({ topic, payload: Buffer.alloc(MAX_OUT + 10, 0x62), qos: 1 });
      await b.broker.publish({ topic, payload: 'small', qos: 1 });
      const m = await nextMessage(sub, (x) => x.topic === topic);
      assert.equal(m.payload.toString(), 'small');
      await expectNoMessage(sub, 100);
      assert.ok(sub.connected, 'the subscriber is still connected');
      const after = (await b.broker.stats()).hosts.reduce((n, h) => n + h.drops.packetTooLarge, 0);
      assert.equal(after - before, 1, 'drops.packetTooLarge counts the skipped message');
    });

    if (version === 5) {
      test("[MQTT-3.1.2-25] the client's Maximum Packet Size: a message over it is skipped for that client only; a client without that cap gets it", async () => {
        const topic = uniqueTopic('out5');
        const small = await connectClient(b.port, { version, properties: { maximumPacketSize: 256 } });
        const big = await connectClient(b.port, { version });
        await small.subscribeAsync(topic, { qos: 1 });
        await big.subscribeAsync(topic, { qos: 1 });
        await b.broker.publish({ topic, payload: Buffer.alloc(500, 0x64), qos: 1 });
        assert.equal((await nextMessage(big, (x) => x.topic === topic)).payload.length, 500);
        await expectNoMessage(small, 100);
        assert.ok(small.connected, 'the capped client is not disconnected');
      });
    }
  });
}
