/**
 * Conformance, SUBSCRIBE and UNSUBSCRIBE (spec 3.8 to 3.11, 4.7): SUBACK
 * codes and their order, refusals (0x80 on 3.1.1, 0x8F on 5.0), replacing a
 * subscription, UNSUBACK, overlapping subscriptions, and the 5.0 options No
 * Local and Subscription Identifiers. MQTT 3.1.1 and 5.0 where both have the
 * feature. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, nextPacketId, publish, receive, subscribe, topic } from './support.js';

const b = brokerForSuite();

for (const version of VERSIONS) {
  const refused = version === 5 ? 0x8f : 0x80;
  describe(`03 subscribe (${label(version)})`, () => {
    test(`${rule(version, '3.9.3-1')} SUBACK has one code per filter in order; an invalid filter gets 0x${refused.toString(16)} [MQTT-3.8.4-5]`, async () => {
      const base = topic('codes');
      const c = await connectRaw(b.port, version);
      const suback = await subscribe(c, [
        { topic: `${base}/a`, qos: 1 },
        { topic: `${base}/#/b`, qos: 1 },
        { topic: `${base}/c+`, qos: 0 },
        { topic: `${base}/+`, qos: 2 },
        { topic: '$share//x', qos: 0 },
      ]);
      assert.deepEqual(suback.granted, [1, refused, refused, 2, refused]);
      // The valid ones are in force.
      const pub = await connectRaw(b.port, version);
      await publish(pub, `${base}/a`, 'x', 1);
      const got = await receive(c);
      assert.equal(got.qos, 1, 'one copy at the highest QoS of the overlapping subscriptions [MQTT-3.3.4-2]');
      await expectNoPublish(c, pub);
    });

    test(`${rule(version, '3.8.4-3')} subscribing again to the same filter replaces the subscription (its QoS)`, async () => {
      const t = topic('replace');
      const c = await connectRaw(b.port, version);
      await subscribe(c, [{ topic: t, qos: 2 }]);
      await subscribe(c, [{ topic: t, qos: 0 }]);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 2);
      const got = await receive(c);
      assert.equal(got.qos, 0);
      await expectNoPublish(c, pub);
    });

    test(`${rule(version, '3.10.4-4')} UNSUBSCRIBE gets UNSUBACK with its packet identifier, even for a filter not subscribed [MQTT-3.10.4-5]; ${rule(version, '3.10.4-2')} messages stop`, async () => {
      const t = topic('unsub');
      const c = await connectRaw(b.port, version);
      await subscribe(c, t);
      const messageId = nextPacketId();
      c.send({ cmd: 'unsubscribe', messageId, unsubscriptions: [t, `${t}/never`] });
      const unsuback = await c.waitForPacket('unsuback');
      assert.equal(unsuback.messageId, messageId);
      if (version === 5) assert.deepEqual(unsuback.granted, [0x00, 0x11], '[MQTT-3.11.3-1] one reason code per filter, in order');
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 1);
      await expectNoPublish(c, pub);
    });

    test(`${rule(version, '4.7.1-2', '4.7.1-1')} '#' matches the parent level and everything below; '+' exactly one level`, async () => {
      const base = topic('wild');
      const c = await connectRaw(b.port, version);
      await subscribe(c, [{ topic: `${base}/#`, qos: 0 }]);
      const plus = await connectRaw(b.port, version);
      await subscribe(plus, [{ topic: `${base}/+`, qos: 0 }]);
      const pub = await connectRaw(b.port, version);
      for (const t of [base, `${base}/x`, `${base}/x/y`]) await publish(pub, t, t, 1);
      const hash = [await receive(c), await receive(c), await receive(c)].map((p) => p.topic);
      assert.deepEqual(hash, [base, `${base}/x`, `${base}/x/y`]);
      assert.equal((await receive(plus)).topic, `${base}/x`);
      await expectNoPublish(plus, pub);
    });
  });
}

describe('03 subscribe (MQTT 5.0 only)', () => {
  test('[MQTT-3.8.3-3] No Local: the subscriber does not get its own messages, others still do', async () => {
    const t = topic('nolocal');
    const self = await connectRaw(b.port, 5);
    await subscribe(self, [{ topic: t, qos: 1, nl: true }]);
    const other = await connectRaw(b.port, 5);
    await subscribe(other, [{ topic: t, qos: 1 }]);
    await publish(self, t, 'mine', 1);
    assert.equal((await receive(other)).payload.toString(), 'mine');
    await expectNoPublish(self);
    await publish(other, t, 'theirs', 1);
    assert.equal((await receive(self)).payload.toString(), 'theirs');
  });

  test('[MQTT-3.3.4-3] [MQTT-3.3.4-4] overlapping subscriptions give one copy carrying every Subscription Identifier', async () => {
    const base = topic('subid');
    const c = await connectRaw(b.port, 5);
    await subscribe(c, [{ topic: `${base}/#`, qos: 1 }], { subscriptionIdentifier: 11 });
    await subscribe(c, [{ topic: `${base}/+`, qos: 0 }], { subscriptionIdentifier: 22 });
    await subscribe(c, [{ topic: `${base}/x`, qos: 0 }]);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, `${base}/x`, 'x', 1);
    const got = await receive(c);
    assert.equal(got.qos, 1);
    const ids = got.properties?.subscriptionIdentifier;
    assert.deepEqual(
      [ids].flat().sort((a, b2) => (a as number) - (b2 as number)),
      [11, 22],
    );
    await expectNoPublish(c, pub);
  });

  test('§3.9.2.1.2 a SUBACK with a refusal carries a Reason String', async () => {
    const c = await connectRaw(b.port, 5);
    const suback = await subscribe(c, [{ topic: 'a/#/b', qos: 0 }]);
    assert.deepEqual(suback.granted, [0x8f]);
    assert.match(suback.properties?.reasonString ?? '', /a\/#\/b/);
  });
});
