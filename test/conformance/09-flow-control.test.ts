/**
 * Conformance, flow control and limits (spec 3.3.4, 4.9, 3.1.2.11.4,
 * 3.2.2.3.3): the client's Receive Maximum (5.0) or maxInflightMessages
 * bounding our unacknowledged messages, a client exceeding our Receive
 * Maximum (0x93), the client's Maximum Packet Size (messages skipped), our
 * maximum packet size (0x95), and the publish rate (0x97). MQTT 3.1.1 and 5.0
 * where both have the feature. Two brokers: one with small limits, one with a
 * publish rate of 1 message per second.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, expectServerClose, publish, receive, roundTrip, subscribe, topic } from './support.js';

const MAX_INFLIGHT = 3;
const RECEIVE_MAXIMUM = 2;
const MAX_PACKET = 1024;

const b = brokerForSuite({ maxInflightMessages: MAX_INFLIGHT, receiveMaximum: RECEIVE_MAXIMUM, maxIncomingPacketSize: MAX_PACKET });
const slow = brokerForSuite({ maxIncomingMessagesRate: 1, maxIncomingMessagesBurst: 0 });
const defaults = brokerForSuite({});

for (const version of VERSIONS) {
  describe(`09 flow control (${label(version)})`, () => {
    const window = version === 5 ? 2 : MAX_INFLIGHT;
    test(`${version === 5 ? '[MQTT-3.3.4-9] ' : ''}at most ${window} unacknowledged QoS 1 messages are sent (${version === 5 ? "the client's Receive Maximum" : 'maxInflightMessages'}); an acknowledgement lets the next one go [MQTT-4.9.0-3]`, async () => {
      const t = topic('window');
      const sub = await connectRaw(b.port, version, version === 5 ? { properties: { receiveMaximum: 2 } } : {});
      await subscribe(sub, [{ topic: t, qos: 1 }]);
      const pub = await connectRaw(b.port, version);
      for (let i = 0; i < 6; i++) await publish(pub, t, `m${i}`, 1);
      const first = [];
      for (let i = 0; i < window; i++) first.push(await receive(sub, false));
      await expectNoPublish(sub, pub); // PINGREQ is still answered with the quota at 0.
      sub.send({ cmd: 'puback', messageId: first[0]?.messageId as number });
      const next = await receive(sub, false);
      assert.equal(next.payload.toString(), `m${window}`);
      await roundTrip(sub);
      assert.equal(sub.unread().filter((p) => p.cmd === 'publish').length, 0);
    });

    test(`${version === 5 ? '§3.2.2.3.6 ' : ''}a packet over the server's maximum packet size closes the connection${version === 5 ? ' (DISCONNECT 0x95)' : ''}`, async () => {
      const c = await connectRaw(b.port, version);
      await publish(c, topic('large'), Buffer.alloc(MAX_PACKET + 10, 1), 0);
      await expectServerClose(c, version, 0x95);
    });

    test(`${version === 5 ? '§3.4.2.1 PUBACK 0x97 (Quota Exceeded) answers' : 'throttling, not a refusal, slows down'} a QoS 1 publish over maxIncomingMessagesRate`, async () => {
      const c = await connectRaw(slow.port, version);
      await publish(c, topic('rate'), 'first', 1);
      const puback = await publish(c, topic('rate'), 'second', 1);
      if (version === 5) {
        assert.equal((puback as { reasonCode?: number }).reasonCode, 0x97);
        assert.match((puback as { properties?: { reasonString?: string } }).properties?.reasonString ?? '', /rate/);
      } else {
        // 3.1.1 has no Quota Exceeded: the message is taken, and the connection is not read again until the bucket refilled (1 s at 1/s).
        assert.equal((puback as { cmd: string }).cmd, 'puback');
        const acked = Date.now();
        await roundTrip(c);
        const waited = Date.now() - acked;
        assert.ok(waited >= 700, `the next packet was read after ${waited} ms`);
        assert.equal(c.closed, false);
      }
    });
  });
}

describe('09 flow control (MQTT 5.0 only)', () => {
  test('§3.3.4 with the default receiveMaximum (1024, told in CONNACK) one more unacknowledged QoS 2 publish is DISCONNECT 0x93, before the publish rate limit answers', async () => {
    const c = await connectRaw(defaults.port, 5);
    const max = c.connack.properties?.receiveMaximum ?? 65535;
    assert.equal(max, 1024);
    for (let i = 1; i <= max; i++)
      c.send({ cmd: 'publish', topic: topic('rm-default'), payload: 'x', qos: 2, messageId: i, retain: false, dup: false });
    for (let i = 1; i <= max; i++) assert.equal((await c.waitForPacket('pubrec')).reasonCode ?? 0, 0);
    c.send({ cmd: 'publish', topic: topic('rm-default'), payload: 'x', qos: 2, messageId: max + 1, retain: false, dup: false });
    await expectServerClose(c, 5, 0x93);
  });

  test('§3.3.4 more unacknowledged QoS 2 publishes than our Receive Maximum is a DISCONNECT 0x93', async () => {
    const c = await connectRaw(b.port, 5);
    assert.equal(c.connack.properties?.receiveMaximum, RECEIVE_MAXIMUM);
    for (let i = 1; i <= RECEIVE_MAXIMUM; i++) {
      c.send({ cmd: 'publish', topic: topic('rm'), payload: 'x', qos: 2, messageId: i, retain: false, dup: false });
      await c.waitForPacket('pubrec');
    }
    c.send({ cmd: 'publish', topic: topic('rm'), payload: 'x', qos: 2, messageId: RECEIVE_MAXIMUM + 1, retain: false, dup: false });
    await expectServerClose(c, 5, 0x93);
  });

  test('§3.3.4 a completed QoS 2 exchange frees its place in our Receive Maximum', async () => {
    const c = await connectRaw(b.port, 5);
    for (let i = 0; i < RECEIVE_MAXIMUM * 3; i++) await publish(c, topic('rm-ok'), 'x', 2);
    await roundTrip(c);
  });

  test("[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message over the client's Maximum Packet Size is skipped, and the ones after it still come", async () => {
    const t = topic('mps');
    const sub = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 128, receiveMaximum: 1 } });
    await subscribe(sub, [{ topic: t, qos: 1 }]);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, Buffer.alloc(400, 0x61), 1);
    await publish(pub, t, 'small', 1);
    const got = await receive(sub);
    assert.equal(got.payload.toString(), 'small', 'the large QoS 1 message neither arrived nor held the window of 1');
    await expectNoPublish(sub, pub);
  });
});
