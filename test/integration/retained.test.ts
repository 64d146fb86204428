/**
 * Integration: retained messages — stored, replaced, cleared by an empty
 * payload, sent with RETAIN = 1 to new subscriptions and with RETAIN = 0 on
 * live delivery — under MQTT 3.1.1 and 5.0. One broker with two workers.
 *
 * Barrier: each retained publish is first observed by a live subscriber,
 * which proves the router (which also keeps the retained store) handled it
 * before the next subscription is made.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueTopic, VERSIONS, type TestClient, type Version } from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 2 });

/** Publishes retained `payload` on `topic` and waits until `observer` (subscribed to `topic`) got it live. */
async function publishRetained(pub: TestClient, observer: TestClient, topic: string, payload: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  await pub.publishAsync(topic, payload, { qos, retain: true });
  const m = await nextMessage(observer, (x) => x.topic === topic && x.payload.toString() === payload);
  assert.equal(m.packet.retain, false, 'live delivery must not carry RETAIN');
}

async function setup(version: Version, topic: string): Promise<{ pub: TestClient; observer: TestClient }> {
  const observer = await connectClient(b.port, { version });
  await observer.subscribeAsync(topic, { qos: 2 });
  const pub = await connectClient(b.port, { version });
  return { pub, observer };
}

for (const version of VERSIONS) {
  describe(`retained messages (${label(version)})`, () => {
    test(`${version === 5 ? '[MQTT-3.3.1-5] [MQTT-3.3.1-9]' : '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8]'} a retained message is sent to a new subscription with RETAIN = 1`, async () => {
      const topic = uniqueTopic('ret');
      const { pub, observer } = await setup(version, topic);
      await publishRetained(pub, observer, topic, 'kept', 1);
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.topic, topic);
      assert.equal(m.payload.toString(), 'kept');
      assert.equal(m.packet.retain, true);
      assert.equal(m.packet.qos, 1);
    });

    test('a retained message reaches a new wildcard subscription, at min(stored QoS, granted QoS)', async () => {
      const base = uniqueTopic('retw');
      const { pub, observer } = await setup(version, `${base}/#`);
      await publishRetained(pub, observer, `${base}/a`, 'A', 2);
      await publishRetained(pub, observer, `${base}/b/c`, 'BC', 0);
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(`${base}/#`, { qos: 1 });
      const got = [await nextMessage(late), await nextMessage(late)].sort((x, y) => x.topic.localeCompare(y.topic));
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload.toString(), m.packet.retain, m.packet.qos]),
        [
          [`${base}/a`, 'A', true, 1],
          [`${base}/b/c`, 'BC', true, 0],
        ],
      );
    });

    test(`${rule(version, '3.3.1-5', '3.3.1-5')} a new retained message replaces the old one`, async () => {
      const topic = uniqueTopic('retr');
      const { pub, observer } = await setup(version, topic);
      await publishRetained(pub, observer, topic, 'first');
      await publishRetained(pub, observer, topic, 'second');
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'second');
      assert.equal(m.packet.retain, true);
      await pub.publishAsync(topic, 'live', { qos: 1 });
      const next = await nextMessage(late);
      assert.equal(next.payload.toString(), 'live', 'only one retained message per topic');
    });

    test(`${rule(version, '3.3.1-12', '3.3.1-8')} a non-retained publish leaves the retained message alone`, async () => {
      const topic = uniqueTopic('retn');
      const { pub, observer } = await setup(version, topic);
      await publishRetained(pub, observer, topic, 'stored');
      await pub.publishAsync(topic, 'not-retained', { qos: 1, retain: false });
      await nextMessage(observer, (x) => x.payload.toString() === 'not-retained');
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'stored');
      assert.equal(m.packet.retain, true);
    });

    test(`${rule(version, '3.3.1-10', '3.3.1-6')} ${rule(version, '3.3.1-11', '3.3.1-7')} an empty retained payload clears the topic and is not stored`, async () => {
      const topic = uniqueTopic('retc');
      const { pub, observer } = await setup(version, topic);
      await publishRetained(pub, observer, topic, 'to-be-cleared');
      await publishRetained(pub, observer, topic, '');
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      await pub.publishAsync(topic, 'sentinel', { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'sentinel', `got ${JSON.stringify(m.payload.toString())} retain=${m.packet.retain} instead`);
      assert.equal(m.packet.retain, false);
    });

    test(`${rule(version, '3.3.1-9', '3.3.1-12')} live deliveries of a retained publish have RETAIN = 0`, async () => {
      const topic = uniqueTopic('retl');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 1 });
      const pub = await connectClient(b.port, { version });
      for (const qos of [0, 1, 2] as const) {
        await pub.publishAsync(topic, `live-${qos}`, { qos, retain: true });
        const m = await nextMessage(sub);
        assert.equal(m.payload.toString(), `live-${qos}`);
        assert.equal(m.packet.retain, false, `QoS ${qos} live delivery carried RETAIN = 1`);
      }
    });

    test(`${rule(version, '3.8.4-3', '3.3.1-9')} re-subscribing to an existing filter sends the retained message again`, async () => {
      const topic = uniqueTopic('retrep');
      const { pub, observer } = await setup(version, topic);
      await publishRetained(pub, observer, topic, 'again');
      await observer.subscribeAsync(topic, { qos: 1 });
      const m = await nextMessage(observer);
      assert.equal(m.payload.toString(), 'again');
      assert.equal(m.packet.retain, true);
    });

    test('broker.publish with retain: true is stored as a retained message', async () => {
      const topic = uniqueTopic('retapp');
      const observer = await connectClient(b.port, { version });
      await observer.subscribeAsync(topic, { qos: 1 });
      await b.broker.publish({ topic, payload: Buffer.from('from-app'), qos: 1, retain: true });
      await nextMessage(observer);
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'from-app');
      assert.equal(m.packet.retain, true);
    });

    if (version === 5) {
      test('[MQTT-3.3.1-13] Retain As Published = 1 keeps RETAIN on live delivery', async () => {
        const topic = uniqueTopic('rap');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1, rap: true });
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'as-published', { qos: 1, retain: true });
        await pub.publishAsync(topic, 'plain', { qos: 1, retain: false });
        const a = await nextMessage(sub);
        const c = await nextMessage(sub);
        assert.deepEqual([a.payload.toString(), a.packet.retain], ['as-published', true]);
        assert.deepEqual([c.payload.toString(), c.packet.retain], ['plain', false]);
      });

      test('[MQTT-3.3.1-10] [MQTT-3.3.1-11] Retain Handling 1 and 2', async () => {
        const topic = uniqueTopic('rh');
        const { pub, observer } = await setup(version, topic);
        await publishRetained(pub, observer, topic, 'r');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1, rh: 2 });
        await expectNoMessage(sub, 100);
        const sub1 = await connectClient(b.port, { version });
        await sub1.subscribeAsync(topic, { qos: 1, rh: 1 });
        assert.equal((await nextMessage(sub1)).payload.toString(), 'r');
        await sub1.subscribeAsync(topic, { qos: 1, rh: 1 });
        await pub.publishAsync(topic, 'sentinel', { qos: 1 });
        assert.equal((await nextMessage(sub1)).payload.toString(), 'sentinel', 'RH 1 re-subscription must not resend');
      });
    }
  });
}
