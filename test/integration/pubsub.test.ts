/**
 * Integration: publish/subscribe at QoS 0, 1 and 2 in both directions,
 * wildcards, $-topics, overlapping subscriptions, unsubscribe, SUBACK and
 * UNSUBACK codes, under MQTT 3.1.1 and 5.0. One broker with two workers for
 * the file, so publishers and subscribers often sit on different hosts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueTopic, VERSIONS, type Received, type TestClient } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';

const QOS = [0, 1, 2] as const;

const b = brokerForSuite({ workers: 2 });

/** Collects messages until one with payload `until` arrives (inclusive). */
async function collectUntil(client: TestClient, until: string): Promise<Received[]> {
  const out: Received[] = [];
  for (;;) {
    const m = await nextMessage(client);
    out.push(m);
    if (m.payload.toString() === until) return out;
  }
}

for (const version of VERSIONS) {
  describe(`publish/subscribe (${label(version)})`, () => {
    for (const qos of QOS) {
      test(`(§4.3) QoS ${qos} round trip: published at ${qos}, delivered at ${qos}`, async () => {
        const topic = uniqueTopic('qos');
        const sub = await connectClient(b.port, { version });
        const granted = await sub.subscribeAsync(topic, { qos });
        assert.equal(granted[0]?.qos, qos);
        const pub = await connectClient(b.port, { version });
        // publishAsync resolves after PUBACK (QoS 1) or PUBREC/PUBREL/PUBCOMP (QoS 2).
        await pub.publishAsync(topic, `payload-${qos}`, { qos });
        const m = await nextMessage(sub);
        assert.equal(m.topic, topic);
        assert.equal(m.payload.toString(), `payload-${qos}`);
        assert.equal(m.packet.qos, qos);
        assert.equal(m.packet.retain, false);
        assert.equal(m.packet.dup, false);
        if (qos > 0) assert.ok((m.packet.messageId ?? 0) > 0, 'QoS > 0 PUBLISH needs a non-zero packet id');
        // A second message proves the first flow completed (nothing stuck inflight).
        await pub.publishAsync(topic, 'second', { qos });
        assert.equal((await nextMessage(sub)).payload.toString(), 'second');
      });
    }

    test(`${rule(version, '2.3.1-1', '2.2.1-4')} broker → client QoS 1 and QoS 2 flows on the wire`, async () => {
      const topic = uniqueTopic('wire');
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] });
      const suback = await raw.expectPacket('suback');
      assert.deepEqual(suback.granted, [2]);
      const pub = await connectClient(b.port, { version });

      await pub.publishAsync(topic, 'q1', { qos: 1 });
      const p1 = await raw.expectPacket('publish');
      assert.equal(p1.qos, 1);
      assert.equal(p1.dup, false);
      assert.ok((p1.messageId ?? 0) > 0);
      assert.equal(p1.payload.toString(), 'q1');
      raw.send({ cmd: 'puback', messageId: p1.messageId as number });

      await pub.publishAsync(topic, 'q2', { qos: 2 });
      const p2 = await raw.expectPacket('publish');
      assert.equal(p2.qos, 2);
      assert.equal(p2.dup, false);
      assert.ok((p2.messageId ?? 0) > 0);
      raw.send({ cmd: 'pubrec', messageId: p2.messageId as number });
      const pubrel = await raw.expectPacket('pubrel');
      assert.equal(pubrel.messageId, p2.messageId, '[MQTT-4.3.3] PUBREL carries the PUBLISH packet id');
      raw.send({ cmd: 'pubcomp', messageId: p2.messageId as number });

      // Flow finished: the next message still arrives.
      await pub.publishAsync(topic, 'after', { qos: 1 });
      const p3 = await raw.expectPacket('publish');
      assert.equal(p3.payload.toString(), 'after');
    });

    test(`${rule(version, '4.3.2-2', '2.2.1-5')} client → broker: PUBACK, PUBREC and PUBCOMP carry the PUBLISH packet id`, async () => {
      const topic = uniqueTopic('ack');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 2 });
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('one'), qos: 1, messageId: 10, retain: false, dup: false });
      const puback = await raw.expectPacket('puback');
      assert.equal(puback.messageId, 10);
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('two'), qos: 2, messageId: 11, retain: false, dup: false });
      const pubrec = await raw.expectPacket('pubrec');
      assert.equal(pubrec.messageId, 11);
      raw.send({ cmd: 'pubrel', messageId: 11 });
      const pubcomp = await raw.expectPacket('pubcomp');
      assert.equal(pubcomp.messageId, 11);
      if (version === 5) assert.equal(pubcomp.reasonCode ?? 0, 0);
      assert.equal((await nextMessage(sub)).payload.toString(), 'one');
      assert.equal((await nextMessage(sub)).payload.toString(), 'two');
    });

    test(`${rule(version, '4.3.3-2', '4.3.3-10')} a QoS 2 PUBLISH resent (DUP) before PUBREL is acknowledged but delivered once`, async () => {
      const topic = uniqueTopic('once');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 2 });
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('exactly-once'), qos: 2, messageId: 7, retain: false, dup: false });
      assert.equal((await raw.expectPacket('pubrec')).messageId, 7);
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('exactly-once'), qos: 2, messageId: 7, retain: false, dup: true });
      assert.equal((await raw.expectPacket('pubrec')).messageId, 7);
      raw.send({ cmd: 'pubrel', messageId: 7 });
      assert.equal((await raw.expectPacket('pubcomp')).messageId, 7);
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('sentinel'), qos: 1, messageId: 8, retain: false, dup: false });
      await raw.expectPacket('puback');
      const got = await collectUntil(sub, 'sentinel');
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['exactly-once', 'sentinel'],
      );
    });

    test(`${rule(version, '3.8.4-6', '3.8.4-8')} delivery QoS is the minimum of published and granted QoS`, async () => {
      const base = uniqueTopic('min');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync({ [`${base}/g0`]: { qos: 0 }, [`${base}/g1`]: { qos: 1 }, [`${base}/g2`]: { qos: 2 } });
      const pub = await connectClient(b.port, { version });
      const cases: Array<[string, 0 | 1 | 2, number]> = [
        ['g0', 2, 0],
        ['g1', 2, 1],
        ['g2', 1, 1],
        ['g2', 0, 0],
        ['g1', 0, 0],
        ['g2', 2, 2],
      ];
      for (const [level, pubQos] of cases) await pub.publishAsync(`${base}/${level}`, `${level}-${pubQos}`, { qos: pubQos });
      for (const [level, pubQos, expected] of cases) {
        const m = await nextMessage(sub, (x) => x.payload.toString() === `${level}-${pubQos}`);
        assert.equal(m.packet.qos, expected, `published at ${pubQos} to a QoS ${level.slice(1)} subscription`);
      }
    });

    test('(§4.7.1) + and # wildcards match the right topics', async () => {
      const base = uniqueTopic('wild');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync({ [`${base}/+/x`]: { qos: 1 }, [`${base}/h/#`]: { qos: 1 } });
      const pub = await connectClient(b.port, { version });
      const topics: Array<[string, boolean]> = [
        [`${base}/a/x`, true],
        [`${base}/a/b/x`, false], // + is one level only
        [`${base}//x`, true], // + matches an empty level
        [`${base}/a/y`, false],
        [`${base}/h`, true], // # also matches the parent level
        [`${base}/h/1`, true],
        [`${base}/h/1/2/3`, true],
        [`${base}/hh/1`, false],
        [`${base}/H/1`, false], // case sensitive
      ];
      for (const [t] of topics) await pub.publishAsync(t, t, { qos: 1 });
      await pub.publishAsync(`${base}/h/end`, 'END', { qos: 1 });
      const got = await collectUntil(sub, 'END');
      assert.deepEqual(
        got.map((m) => m.topic),
        [...topics.filter(([, match]) => match).map(([t]) => t), `${base}/h/end`],
      );
    });

    test('[MQTT-4.7.2-1] $-topics are not matched by # or by + at the first level', async () => {
      const marker = uniqueTopic('sys').replace('/', '-');
      const hash = await connectClient(b.port, { version });
      await hash.subscribeAsync('#', { qos: 1 });
      const plus = await connectClient(b.port, { version });
      await plus.subscribeAsync(`+/${marker}`, { qos: 1 });
      const explicit = await connectClient(b.port, { version });
      await explicit.subscribeAsync({ '$SYS/#': { qos: 1 }, [`$app/${marker}`]: { qos: 1 } });
      const pub = await connectClient(b.port, { version });

      await b.broker.publish({ topic: `$SYS/${marker}`, payload: Buffer.from('from-app'), qos: 1, retain: false });
      await pub.publishAsync(`$app/${marker}`, 'from-client', { qos: 1 });
      await pub.publishAsync(`plain/${marker}`, 'sentinel', { qos: 1 });

      const e1 = await nextMessage(explicit, (m) => m.topic.endsWith(marker));
      const e2 = await nextMessage(explicit, (m) => m.topic.endsWith(marker));
      assert.deepEqual([e1.payload.toString(), e2.payload.toString()].sort(), ['from-app', 'from-client']);
      const h = await nextMessage(hash, (m) => m.topic.endsWith(marker));
      assert.equal(h.topic, `plain/${marker}`, '# must not match a $ topic');
      const p = await nextMessage(plus);
      assert.equal(p.topic, `plain/${marker}`, '+/... must not match a $ topic');
      await expectNoMessage(hash, 100, (m) => m.topic.startsWith('$'));
      await expectNoMessage(plus, 50);
    });

    test(`[MQTT-4.7.2-1] a client's PUBLISH to $SYS is never routed${version === 5 ? ' (PUBACK 0x87)' : ' (acknowledged and dropped)'}, nor a will on $SYS; the broker's own $SYS messages are`, async () => {
      const marker = uniqueTopic('spoof').replace('/', '-');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync('$SYS/#', { qos: 1 });
      const pub = await connectClient(b.port, { version });
      const acked = new Promise<{ reasonCode?: number }>((resolve) =>
        pub.on('packetreceive', (packet) => {
          if (packet.cmd === 'puback') resolve(packet);
        }),
      );
      pub.publish(`$SYS/${marker}/spoofed`, 'from a client', { qos: 1 });
      assert.equal((await acked).reasonCode ?? 0, version === 5 ? 0x87 : 0);
      await assert.rejects(
        connectClient(b.port, { version, will: { topic: `$SYS/${marker}/will`, payload: Buffer.from('w'), qos: 1, retain: false } }),
        /Not authorized/,
      );
      await b.broker.publish({ topic: `$SYS/${marker}/broker`, payload: Buffer.from('from the broker'), qos: 1, retain: false });
      const got = await nextMessage(sub, (m) => m.topic.includes(marker));
      assert.equal(got.topic, `$SYS/${marker}/broker`, 'only the broker publishes in $SYS');
      await expectNoMessage(sub, 100, (m) => m.topic.includes(marker));
    });

    test(`${rule(version, '3.3.5-1', '3.3.4-2')} overlapping subscriptions: delivered once, at the highest granted QoS`, async () => {
      const base = uniqueTopic('ovl');
      const sub = await connectClient(b.port, { version });
      const granted = await sub.subscribeAsync({
        [`${base}/a/x`]: { qos: 0 },
        [`${base}/+/x`]: { qos: 2 },
        [`${base}/#`]: { qos: 1 },
      });
      assert.deepEqual(
        granted.map((g) => g.qos),
        [0, 2, 1],
      );
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(`${base}/a/x`, 'overlap', { qos: 2 });
      await pub.publishAsync(`${base}/end`, 'END', { qos: 1 });
      const got = await collectUntil(sub, 'END');
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['overlap', 'END'],
      );
      assert.equal(got[0]?.packet.qos, 2);
    });

    test('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription', async () => {
      const topic = uniqueTopic('replace');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 2 });
      await sub.subscribeAsync(topic, { qos: 0 });
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'once', { qos: 2 });
      await pub.publishAsync(topic, 'END', { qos: 2 });
      const got = await collectUntil(sub, 'END');
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['once', 'END'],
      );
      assert.equal(got[0]?.packet.qos, 0);
    });

    test('[MQTT-3.10.4-2] [MQTT-3.10.4-4] UNSUBSCRIBE stops delivery on that filter only', async () => {
      const base = uniqueTopic('unsub');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync({ [`${base}/a`]: { qos: 1 }, [`${base}/b`]: { qos: 1 } });
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(`${base}/a`, 'a-before', { qos: 1 });
      assert.equal((await nextMessage(sub)).payload.toString(), 'a-before');
      await sub.unsubscribeAsync(`${base}/a`);
      await pub.publishAsync(`${base}/a`, 'a-after', { qos: 1 });
      await pub.publishAsync(`${base}/b`, 'END', { qos: 1 });
      const got = await collectUntil(sub, 'END');
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['END'],
      );
    });

    if (version === 5) {
      test('(§3.3.2.3.4) inbound Topic Alias: set with a topic, then used with an empty topic name', async (t) => {
        const topic = uniqueTopic('alias');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1 });
        const raw = await RawClient.connect(b.port, 5);
        const connack = await raw.handshake();
        if ((connack.properties?.topicAliasMaximum ?? 0) === 0) {
          t.skip('the broker announces Topic Alias Maximum 0');
          return;
        }
        raw.send({
          cmd: 'publish',
          topic,
          payload: Buffer.from('set'),
          qos: 1,
          messageId: 1,
          retain: false,
          dup: false,
          properties: { topicAlias: 1 },
        });
        await raw.expectPacket('puback');
        raw.send({
          cmd: 'publish',
          topic: '',
          payload: Buffer.from('used'),
          qos: 1,
          messageId: 2,
          retain: false,
          dup: false,
          properties: { topicAlias: 1 },
        });
        await raw.expectPacket('puback');
        const got = [await nextMessage(sub), await nextMessage(sub)];
        assert.deepEqual(
          got.map((m) => [m.topic, m.payload.toString()]),
          [
            [topic, 'set'],
            [topic, 'used'],
          ],
        );
        assert.equal(got[1]?.packet.properties?.topicAlias, undefined, 'the subscriber asked for no aliases');
      });

      test('[MQTT-3.8.3-3] No Local: a client does not get its own publishes on a No Local subscription', async () => {
        const topic = uniqueTopic('nl');
        const client = await connectClient(b.port, { version });
        await client.subscribeAsync(topic, { qos: 1, nl: true });
        const other = await connectClient(b.port, { version });
        await client.publishAsync(topic, 'own', { qos: 1 });
        await other.publishAsync(topic, 'other', { qos: 1 });
        assert.equal((await nextMessage(client)).payload.toString(), 'other');
      });

      test('[MQTT-3.3.4-3] [MQTT-3.3.4-4] Subscription Identifiers of every matching subscription come with the message', async () => {
        const base = uniqueTopic('sid');
        const client = await connectClient(b.port, { version });
        await client.subscribeAsync(`${base}/+`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
        await client.subscribeAsync(`${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 9 } });
        await client.subscribeAsync(`${base}/x`, { qos: 1 });
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(`${base}/x`, 'ids', { qos: 1 });
        await pub.publishAsync(`${base}/end`, 'END', { qos: 1 });
        const got = await collectUntil(client, 'END');
        assert.equal(got.length, 2, 'overlapping subscriptions delivered more than once');
        const ids = got[0]?.packet.properties?.subscriptionIdentifier;
        assert.deepEqual([ids].flat().sort(), [7, 9]);
      });

      test('[MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] PUBLISH properties are forwarded unaltered', async () => {
        const topic = uniqueTopic('props');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1 });
        const pub = await connectClient(b.port, { version });
        const properties = {
          payloadFormatIndicator: true,
          contentType: 'text/plain',
          responseTopic: 'reply/here',
          correlationData: Buffer.from([1, 2, 3]),
          userProperties: { a: '1', b: ['x', 'y'] },
        };
        await pub.publishAsync(topic, 'with-props', { qos: 1, properties });
        const m = await nextMessage(sub);
        const p = m.packet.properties ?? {};
        assert.equal(p.payloadFormatIndicator, true);
        assert.equal(p.contentType, 'text/plain');
        assert.equal(p.responseTopic, 'reply/here');
        assert.deepEqual(p.correlationData, Buffer.from([1, 2, 3]));
        assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['x', 'y'] });
      });
    }

    test(`[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.9.3-1] SUBACK: same packet id, one code per filter in order`, async () => {
      const base = uniqueTopic('suback');
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({
        cmd: 'subscribe',
        messageId: 4242,
        subscriptions: [
          { topic: `${base}/q2`, qos: 2 },
          { topic: `${base}/q0`, qos: 0 },
          { topic: `${base}/#/bad`, qos: 1 },
          { topic: `${base}/q1`, qos: 1 },
        ],
      });
      const suback = await raw.expectPacket('suback');
      assert.equal(suback.messageId, 4242);
      const failure = version === 5 ? 0x8f : 0x80;
      assert.deepEqual(suback.granted, [2, 0, failure, 1]);
    });

    test(`${rule(version, '3.10.4-4', '3.10.4-4')} UNSUBACK: same packet id${version === 5 ? ', 0x00 for a held filter and 0x11 for one not held' : ''}`, async () => {
      const base = uniqueTopic('unsuback');
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${base}/held`, qos: 1 }] });
      await raw.expectPacket('suback');
      raw.send({ cmd: 'unsubscribe', messageId: 777, unsubscriptions: [`${base}/held`, `${base}/never`] });
      const unsuback = (await raw.expectPacket('unsuback')) as mqttPacket.IUnsubackPacket;
      assert.equal(unsuback.messageId, 777);
      if (version === 5) assert.deepEqual(unsuback.granted, [0x00, 0x11]);
    });
  });
}
