/**
 * on_message_drop(subscriberId, message, reason) with an in-process plugin,
 * for the drops lifecycle.test.ts does not cover, under both queueDropPolicy
 * values ('oldest' with the hosts on the main thread, 'newest' in two
 * workers), MQTT 3.1.1 and 5.0: queue_full of the online queue (the evicted
 * oldest message, or the refused newest one), expired for a message whose
 * Message Expiry passed while it waited in the online or the offline queue
 * [MQTT-3.3.2-5], and queue_full for a QoS 0 message dropped because the
 * subscriber's socket held over maxConnectionBufferBytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueueDropPolicy } from '../../src/api/config.js';
import type { DroppedMessage } from '../../src/api/hooks.js';
import { closeClient, connectClient, persistent, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import { hostTotals, labelled, labelOf, StalledSubscriber, waitUntil } from '../limits/support.js';
import { recordedBroker, type Call } from './support.js';

const MAX_ONLINE = 1;
const EXPIRY_S = 1;
const BUFFER_BYTES = 1024;
/** QoS 0 messages of this size are published until one is dropped, at most MAX_FLOOD of them. */
const FLOOD_PAYLOAD = 16 * 1024;
const MAX_FLOOD = 4000;

const SETUPS: ReadonlyArray<{ policy: QueueDropPolicy; workers: number }> = [
  { policy: 'oldest', workers: 0 },
  { policy: 'newest', workers: 2 },
];

function dropped(call: Call): { message: DroppedMessage; reason: unknown } {
  return { message: call.args[1] as DroppedMessage, reason: call.args[2] };
}

for (const { policy, workers } of SETUPS) {
  for (const version of VERSIONS) {
    describe(`on_message_drop (${label(version)}, queueDropPolicy '${policy}', workers ${workers})`, () => {
      const { recorder, b } = recordedBroker({
        workers,
        queueDropPolicy: policy,
        maxInflightMessages: 1,
        maxOnlineMessages: MAX_ONLINE,
        maxConnectionBufferBytes: BUFFER_BYTES,
      });

      /** A 5.0 client publishes 'stale' with a Message Expiry Interval of EXPIRY_S. */
      async function publishExpiring(topic: string): Promise<void> {
        const pub = await connectClient(b.port, { version: 5 });
        await pub.publishAsync(topic, labelled('stale', 1), { qos: 1, properties: { messageExpiryInterval: EXPIRY_S } });
      }

      test(`queue_full: the online queue is full; the ${policy} message is dropped`, async () => {
        const clientId = uniqueId('onfull');
        const topic = uniqueTopic('onfull');
        const sub = await StalledSubscriber.open(b.port, version, topic, 1, clientId);
        for (const name of ['sent', 'queued', 'third']) await b.broker.publish({ topic, payload: labelled(name, 1), qos: 1 });
        assert.deepEqual(await sub.take(1), ['sent']);
        const { message, reason } = dropped(await recorder.waitFor('on_message_drop', clientId));
        assert.equal(reason, 'queue_full');
        assert.equal(labelOf(message.payload), policy === 'oldest' ? 'queued' : 'third');
        assert.equal(message.topic, topic);
        assert.equal(message.qos, 1);
        assert.deepEqual(await sub.drain(1), [policy === 'oldest' ? 'third' : 'queued']);
      });

      test('expired: the Message Expiry Interval passed while the message waited in the online queue [MQTT-3.3.2-5]', async () => {
        const clientId = uniqueId('onexp');
        const topic = uniqueTopic('onexp');
        const sub = await StalledSubscriber.open(b.port, version, topic, 1, clientId);
        await b.broker.publish({ topic, payload: labelled('sent', 1), qos: 1 });
        await publishExpiring(topic);
        const expiresAt = Date.now() + EXPIRY_S * 1000;
        assert.deepEqual(await sub.take(1), ['sent']);
        await waitUntil(() => Date.now() > expiresAt, 'the queued message expired', EXPIRY_S * 1000 + 1000);
        assert.deepEqual(await sub.drain(0), []);
        const { message, reason } = dropped(await recorder.waitFor('on_message_drop', clientId));
        assert.equal(reason, 'expired');
        assert.equal(labelOf(message.payload), 'stale');
      });

      test('expired: the Message Expiry Interval passed while the message waited in the offline queue [MQTT-3.3.2-5]', async () => {
        const clientId = uniqueId('offexp');
        const topic = uniqueTopic('offexp');
        const sub = await connectClient(b.port, { version, clientId, ...persistent(version) });
        await sub.subscribeAsync(topic, { qos: 1 });
        await closeClient(sub);
        await recorder.waitFor('on_client_offline', clientId);
        await publishExpiring(topic);
        const expiresAt = Date.now() + EXPIRY_S * 1000;
        await recorder.waitFor('on_offline_message', clientId);
        await waitUntil(() => Date.now() > expiresAt, 'the queued message expired', EXPIRY_S * 1000 + 1000);
        await connectClient(b.port, { version, clientId, ...persistent(version) });
        const { message, reason } = dropped(await recorder.waitFor('on_message_drop', clientId));
        assert.equal(reason, 'expired');
        assert.equal(labelOf(message.payload), 'stale');
      });

      test('queue_full: a QoS 0 message for a subscriber whose socket holds over maxConnectionBufferBytes', async () => {
        const topic = uniqueTopic('slow');
        const raw = await RawClient.connect(b.port, version);
        const clientId = uniqueId('slow');
        await raw.handshake({ clientId });
        raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
        await raw.expectPacket('suback');
        raw.socket.pause();
        const first = recorder.waitFor('on_message_drop', clientId, undefined, 20_000);
        const payload = Buffer.alloc(FLOOD_PAYLOAD, 0x71);
        for (let i = 0; i < MAX_FLOOD && !recorder.sequence(clientId).includes('on_message_drop'); i++) {
          await b.broker.publish({ topic, payload, qos: 0 });
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
        const { message, reason } = dropped(await first);
        assert.equal(reason, 'queue_full');
        assert.equal(message.topic, topic);
        assert.equal(message.qos, 0);
        assert.equal(message.payload.length, FLOOD_PAYLOAD);
        const stats = await b.broker.stats();
        assert.ok(stats.droppedQos0 > 0, `droppedQos0 = ${stats.droppedQos0}`);
        assert.equal((await hostTotals(b.broker)).queued, 0, 'QoS 0 messages are never queued');
      });
    });
  }
}
