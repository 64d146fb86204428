/**
 * Conformance, PUBLISH (spec 3.3, 4.3, 4.7): acknowledgements per QoS, the
 * QoS downgrade to the granted QoS, topic name rules, the `$` rule for
 * wildcards, and the 5.0 Payload Format Indicator check (0x99). MQTT 3.1.1
 * and 5.0 where both have the feature. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, expectServerClose, publish, receive, subscribe, topic } from './support.js';

const b = brokerForSuite();

for (const version of VERSIONS) {
  describe(`02 publish (${label(version)})`, () => {
    test(`${rule(version, '3.3.4-1')} QoS 1 gets PUBACK, QoS 2 gets PUBREC then PUBCOMP, with the packet identifier`, async () => {
      const c = await connectRaw(b.port, version);
      const puback = await publish(c, topic('ack'), 'one', 1, { messageId: 77 });
      assert.equal(puback?.cmd, 'puback');
      assert.equal((puback as { messageId: number }).messageId, 77);
      const pubcomp = await publish(c, topic('ack'), 'two', 2, { messageId: 78 });
      assert.equal(pubcomp?.cmd, 'pubcomp');
      assert.equal((pubcomp as { messageId: number }).messageId, 78);
    });

    test(`${rule(version, '3.8.4-6', '3.8.4-8')} a message is delivered at the minimum of its QoS and the granted QoS`, async () => {
      const t = topic('downgrade');
      for (const granted of [0, 1, 2] as const) {
        const sub = await connectRaw(b.port, version);
        const suback = await subscribe(sub, [{ topic: t, qos: granted }]);
        assert.deepEqual(suback.granted, [granted]);
        const pub = await connectRaw(b.port, version);
        for (const qos of [0, 1, 2] as const) {
          await publish(pub, t, `q${qos}`, qos);
          const got = await receive(sub);
          assert.equal(got.payload.toString(), `q${qos}`);
          assert.equal(got.qos, Math.min(qos, granted), `published at ${qos}, granted ${granted}`);
        }
        sub.disconnect();
        pub.disconnect();
      }
    });

    test(`${rule(version, '3.3.1-2', '4.3.1-1')} QoS 0 is delivered with DUP 0 and no packet identifier; ${rule(version, '3.3.2-3')} the topic is the published one`, async () => {
      const t = topic('q0');
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, `${t.split('/').slice(0, -1).join('/')}/+`);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'zero', 0);
      const got = await receive(sub);
      assert.equal(got.topic, t);
      assert.equal(got.dup, false);
      assert.equal(got.messageId, undefined);
    });

    test(`${rule(version, '3.3.2-2')} a topic name with a wildcard closes the connection${version === 5 ? ' (DISCONNECT 0x90)' : ''}`, async () => {
      const c = await connectRaw(b.port, version);
      await publish(c, 'a/+/b', 'x', 0);
      await expectServerClose(c, version, 0x90);
    });

    test(`${rule(version, '4.7.3-1')} an empty topic name (without a Topic Alias) closes the connection${version === 5 ? ' (DISCONNECT 0x82)' : ''}`, async () => {
      const c = await connectRaw(b.port, version);
      await publish(c, '', 'x', 0);
      await expectServerClose(c, version, 0x82);
    });

    test(`${rule(version, '4.7.2-1')} '#' and '+' at the first level do not match a topic starting with '$'`, async () => {
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, [
        { topic: '#', qos: 0 },
        { topic: '+/conf-dollar/#', qos: 0 },
      ]);
      const pub = await connectRaw(b.port, version);
      await publish(pub, '$conf-dollar/x', 'hidden', 1);
      await expectNoPublish(sub, pub);
    });
  });
}

describe('02 publish (MQTT 5.0 only)', () => {
  test('§3.3.2.3.2 a payload that is not UTF-8 while Payload Format Indicator says so is refused with 0x99 and not routed', async () => {
    const t = topic('pfi');
    const sub = await connectRaw(b.port, 5);
    await subscribe(sub, t);
    const pub = await connectRaw(b.port, 5);
    const bad = Buffer.from([0xff, 0xfe, 0x80]);
    const puback = await publish(pub, t, bad, 1, { properties: { payloadFormatIndicator: true } });
    assert.equal((puback as { reasonCode?: number }).reasonCode, 0x99);
    const pubrec = await publish(pub, t, bad, 2, { properties: { payloadFormatIndicator: true } });
    assert.equal((pubrec as { reasonCode?: number }).reasonCode, 0x99);
    await expectNoPublish(sub, pub);
  });

  test('[MQTT-3.3.2-4] a valid UTF-8 payload with Payload Format Indicator is forwarded with the indicator unaltered', async () => {
    const t = topic('pfi');
    const sub = await connectRaw(b.port, 5);
    await subscribe(sub, t);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'héllo', 1, { properties: { payloadFormatIndicator: true } });
    const got = await receive(sub);
    assert.equal(got.properties?.payloadFormatIndicator, true);
    assert.equal(got.payload.toString(), 'héllo');
  });
});
