/**
 * Conformance, retained messages (spec 3.3.1.3, 3.8.3.1): storing, replacing
 * and deleting, the RETAIN flag on delivery, and the 5.0 options Retain
 * Handling and Retain As Published. MQTT 3.1.1 and 5.0 where both have the
 * feature. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, publish, receive, subscribe, topic } from './support.js';

const b = brokerForSuite();

for (const version of VERSIONS) {
  describe(`04 retain (${label(version)})`, () => {
    test(`${rule(version, '3.3.1-5')} a retained message replaces the previous one and goes to new subscribers with RETAIN 1 [${version === 5 ? 'MQTT-3.3.1-9' : 'MQTT-3.3.1-8'}]`, async () => {
      const t = topic('keep');
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'first', 1, { retain: true });
      await publish(pub, t, 'second', 1, { retain: true });
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, [{ topic: t, qos: 1 }]);
      const got = await receive(sub);
      assert.equal(got.payload.toString(), 'second');
      assert.equal(got.retain, true);
      await expectNoPublish(sub);
    });

    test(`${rule(version, '3.3.1-10', '3.3.1-6')} an empty retained payload deletes the retained message and is not stored [${version === 5 ? 'MQTT-3.3.1-7' : 'MQTT-3.3.1-11'}]`, async () => {
      const t = topic('delete');
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 1, { retain: true });
      await publish(pub, t, '', 1, { retain: true });
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, t);
      await expectNoPublish(sub);
    });

    test(`${rule(version, '3.3.1-12', '3.3.1-8')} a message with RETAIN 0 neither stores nor replaces the retained message`, async () => {
      const t = topic('nonretained');
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'kept', 1, { retain: true });
      await publish(pub, t, 'live', 1);
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, t);
      assert.equal((await receive(sub)).payload.toString(), 'kept');
      await expectNoPublish(sub);
    });

    test(`${rule(version, '3.3.1-9', '3.3.1-12')} a live message matching an established subscription is sent with RETAIN 0`, async () => {
      const t = topic('live');
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, t);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'r', 1, { retain: true });
      const got = await receive(sub);
      assert.equal(got.retain, false);
    });
  });
}

describe('04 retain (MQTT 5.0 only)', () => {
  test('[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] Retain Handling 0 sends retained messages on every subscribe, 1 only on a new subscription, 2 never', async () => {
    const t = topic('rh');
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'retained', 1, { retain: true });
    const c = await connectRaw(b.port, 5);
    for (const [rh, expected] of [
      [0, 1],
      [0, 1],
      [1, 0],
      [2, 0],
    ] as const) {
      await subscribe(c, [{ topic: t, qos: 1, rh }]);
      if (expected) assert.equal((await receive(c)).payload.toString(), 'retained', `rh ${rh}`);
      await expectNoPublish(c);
    }
    const fresh = await connectRaw(b.port, 5);
    await subscribe(fresh, [{ topic: t, qos: 1, rh: 1 }]);
    assert.equal((await receive(fresh)).retain, true, 'Retain Handling 1 on a new subscription sends');
    const never = await connectRaw(b.port, 5);
    await subscribe(never, [{ topic: t, qos: 1, rh: 2 }]);
    await expectNoPublish(never);
  });

  test('[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published keeps the RETAIN flag of live messages; without it RETAIN is 0', async () => {
    const t = topic('rap');
    const rap = await connectRaw(b.port, 5);
    await subscribe(rap, [{ topic: t, qos: 1, rap: true }]);
    const plain = await connectRaw(b.port, 5);
    await subscribe(plain, [{ topic: t, qos: 1, rap: false }]);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'r', 1, { retain: true });
    await publish(pub, t, 'n', 1);
    assert.deepEqual(
      [await receive(rap), await receive(rap)].map((p) => p.retain),
      [true, false],
    );
    assert.deepEqual(
      [await receive(plain), await receive(plain)].map((p) => p.retain),
      [false, false],
    );
  });
});
