/**
 * Fan-out over real sockets with mqtt.js: one message to many subscribers of
 * both protocol versions leaves their host as one shared frame per encoding,
 * yet every subscriber still gets exactly its own PUBLISH: the RETAIN flag
 * its subscription asks for [MQTT-3.3.1-12] [MQTT-3.3.1-13], its
 * Subscription Identifier [MQTT-3.3.4-3], its QoS, its Topic Alias, and
 * every message once and in order [MQTT-4.6.0-6]; hosts inline and in a
 * worker.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker } from '../helpers/broker.js';
import { closeClient, connectClient, nextMessages, roundTrip, uniqueTopic, type TestClient } from '../helpers/clients.js';

const MESSAGES = 20;

interface Subscriber {
  name: string;
  client: TestClient;
  qos: 0 | 1;
  retainAsPublished: boolean;
  subscriptionId: number | undefined;
}

for (const workers of [0, 1]) {
  describe(`fan-out of one message to many subscribers (workers: ${workers})`, () => {
    test('[MQTT-3.3.1-12] [MQTT-3.3.1-13] [MQTT-3.3.4-3] [MQTT-4.6.0-6] each subscriber gets its own RETAIN flag, QoS, Subscription Identifier and alias, every message once, in order', async () => {
      const b = await startBroker({ workers });
      try {
        const topic = uniqueTopic('fanout');
        const subscribers: Subscriber[] = [];
        const add = async (name: string, version: 4 | 5, qos: 0 | 1, options: { rap?: boolean; id?: number; aliases?: number } = {}) => {
          const client = await connectClient(b.port, {
            version,
            ...(options.aliases ? { properties: { topicAliasMaximum: options.aliases } } : {}),
          });
          await client.subscribeAsync(topic, {
            qos,
            ...(version === 5 ? { rap: options.rap ?? false } : {}),
            ...(options.id !== undefined ? { properties: { subscriptionIdentifier: options.id } } : {}),
          });
          subscribers.push({ name, client, qos, retainAsPublished: options.rap ?? false, subscriptionId: options.id });
        };
        // Several of each plain encoding, so that their bytes are shared; the others need their own.
        for (let i = 0; i < 3; i++) await add(`3.1.1 QoS 0 #${i}`, 4, 0);
        for (let i = 0; i < 3; i++) await add(`5.0 QoS 0 #${i}`, 5, 0);
        for (let i = 0; i < 2; i++) await add(`5.0 QoS 0 retain-as-published #${i}`, 5, 0, { rap: true });
        await add('5.0 QoS 0 subscription id', 5, 0, { id: 7 });
        await add('5.0 QoS 0 topic aliases', 5, 0, { aliases: 10 });
        await add('3.1.1 QoS 1', 4, 1);
        await add('5.0 QoS 1', 5, 1);

        const pub = await connectClient(b.port, { version: 5 });
        // After the first PUBLISH, the alias subscriber's carry its Topic Alias and an empty topic [MQTT-3.3.2-12].
        const arriving = subscribers.map((s) => nextMessages(s.client, MESSAGES, (m) => m.topic === topic || m.topic === ''));
        for (let i = 0; i < MESSAGES; i++) {
          // Every third one retained: sent on to existing subscribers with RETAIN 0 unless they asked for it as published.
          await pub.publishAsync(topic, `m${i}`, { qos: 1, retain: i % 3 === 0 });
        }
        const received = await Promise.all(arriving);
        for (const [k, s] of subscribers.entries()) {
          const got = received[k]!;
          assert.deepEqual(
            got.map((m) => m.payload.toString()),
            Array.from({ length: MESSAGES }, (_, i) => `m${i}`),
            `${s.name}: every message once, in order`,
          );
          got.forEach((m, i) => {
            assert.equal(m.packet.retain, s.retainAsPublished && i % 3 === 0, `${s.name} #${i}: RETAIN`);
            assert.equal(m.packet.qos, s.qos, `${s.name} #${i}: QoS`);
            assert.equal(m.packet.dup, false, `${s.name} #${i}: DUP`);
            assert.deepEqual(m.packet.properties?.subscriptionIdentifier, s.subscriptionId, `${s.name} #${i}: Subscription Identifier`);
            const aliased = s.name.includes('aliases');
            assert.equal(m.topic, aliased && i > 0 ? '' : topic, `${s.name} #${i}: topic`);
            assert.equal(m.packet.properties?.topicAlias !== undefined, aliased, `${s.name} #${i}: Topic Alias`);
          });
        }
        for (const s of subscribers) await roundTrip(s.client);
        await Promise.all([...subscribers.map((s) => closeClient(s.client)), closeClient(pub)]);
      } finally {
        await b.close();
      }
    });
  });
}
