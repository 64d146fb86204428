/**
 * Session lifecycle hooks with an in-process plugin, under MQTT 3.1.1 and
 * 5.0, with the actor hosts on the main thread and in two workers:
 * on_client_gone / on_client_offline when a session loses its transport (per
 * clean session or session expiry), on_session_expired when it expires,
 * on_topic_unsubscribed after an UNSUBSCRIBE and with `all_topics` when a
 * session with subscriptions ends, on_offline_message when a message is
 * queued for it offline, and on_message_drop with its three reasons.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DroppedMessage } from '../../src/api/hooks.js';
import { connectClient, dropConnection, persistent, uniqueId, uniqueTopic, VERSIONS, type TestClient } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { recordedBroker, WORKER_COUNTS } from './support.js';

/** 3.1.1 persistent sessions expire after this many seconds on the suite's broker (5.0 clients ask for their own). */
const PERSISTENT_EXPIRY_S = 1;
const OUTGOING_LIMIT = 512;

for (const workers of WORKER_COUNTS) {
  for (const version of VERSIONS) {
    describe(`lifecycle hooks (${label(version)}, workers ${workers})`, () => {
      const { recorder, b } = recordedBroker({
        workers,
        persistentSessionExpiry: PERSISTENT_EXPIRY_S,
        maxOutgoingPacketSize: OUTGOING_LIMIT,
      });

      /** Subscribes a persistent session for `clientId` to `topic` at QoS 1 and waits for its on_client_offline; returns a publisher. */
      async function subscribeThenGoOffline(clientId: string, topic: string): Promise<TestClient> {
        const sub = await connectClient(b.port, { version, clientId, ...persistent(version, 300) });
        await sub.subscribeAsync(topic, { qos: 1 });
        await sub.endAsync();
        await recorder.waitFor('on_client_offline', clientId);
        return connectClient(b.port, { version });
      }

      test('a clean session that disconnects: on_client_gone(subscriberId), never on_client_offline', async () => {
        const clientId = uniqueId('gone');
        const client = await connectClient(b.port, { version, clientId, clean: true });
        await client.endAsync();
        const gone = await recorder.waitFor('on_client_gone', clientId);
        assert.deepEqual(gone.args, [{ mountpoint: '', clientId }]);
        assert.deepEqual(recorder.sequence(clientId, ['on_client_offline', 'on_client_gone']), ['on_client_gone']);
      });

      test('a persistent session that loses its transport: on_client_offline, then on_session_expired when it expires', async () => {
        const clientId = uniqueId('off');
        const client = await connectClient(b.port, { version, clientId, ...persistent(version, PERSISTENT_EXPIRY_S) });
        dropConnection(client);
        const offline = await recorder.waitFor('on_client_offline', clientId);
        assert.deepEqual(offline.args, [{ mountpoint: '', clientId }]);
        const expired = await recorder.waitFor('on_session_expired', clientId, undefined, PERSISTENT_EXPIRY_S * 1000 + 5000);
        assert.deepEqual(expired.args, [{ mountpoint: '', clientId }]);
        assert.deepEqual(recorder.sequence(clientId, ['on_client_offline', 'on_client_gone', 'on_session_expired']), [
          'on_client_offline',
          'on_session_expired',
        ]);
      });

      test('on_topic_unsubscribed(subscriberId, filters) after an UNSUBSCRIBE removed them; all_topics when a clean session ends', async () => {
        const clientId = uniqueId('unsub');
        const topic = uniqueTopic('unsub');
        const client = await connectClient(b.port, { version, clientId, clean: true });
        await client.subscribeAsync([`${topic}/a`, `${topic}/b`], { qos: 1 });
        await client.unsubscribeAsync([`${topic}/a`, `${topic}/never`]);
        const removed = await recorder.waitFor('on_topic_unsubscribed', clientId);
        assert.deepEqual(removed.args, [{ mountpoint: '', clientId }, [`${topic}/a`]]);
        await client.endAsync();
        const all = await recorder.waitFor('on_topic_unsubscribed', clientId, (c) => c.args[1] === 'all_topics');
        assert.deepEqual(all.args, [{ mountpoint: '', clientId }, 'all_topics']);
        await recorder.waitFor('on_client_gone', clientId);
      });

      test('an expiring persistent session with subscriptions: on_topic_unsubscribed(all_topics), then on_session_expired', async () => {
        const clientId = uniqueId('exp');
        const client = await connectClient(b.port, { version, clientId, ...persistent(version, PERSISTENT_EXPIRY_S) });
        await client.subscribeAsync(uniqueTopic('exp'), { qos: 1 });
        dropConnection(client);
        await recorder.waitFor('on_session_expired', clientId, undefined, PERSISTENT_EXPIRY_S * 1000 + 5000);
        assert.deepEqual(recorder.sequence(clientId, ['on_client_offline', 'on_topic_unsubscribed', 'on_session_expired']), [
          'on_client_offline',
          'on_topic_unsubscribed',
          'on_session_expired',
        ]);
      });

      test('a message queued for an offline session: on_offline_message(subscriberId, qos, topic, payload, retain)', async () => {
        const clientId = uniqueId('offmsg');
        const topic = uniqueTopic('off');
        const pub = await subscribeThenGoOffline(clientId, topic);
        await pub.publishAsync(topic, 'while away', { qos: 1 });
        const call = await recorder.waitFor('on_offline_message', clientId);
        assert.deepEqual(
          call.args.map((a) => (Buffer.isBuffer(a) ? a.toString() : a)),
          [{ mountpoint: '', clientId }, 1, topic, 'while away', false],
        );
      });

      test("on_message_drop(subscriberId, message, 'queue_full') when the offline queue overflows", async () => {
        const clientId = uniqueId('full');
        const topic = uniqueTopic('full');
        recorder.answerBoth('auth_on_register', (_p, sid) => (sid.clientId === clientId ? { ok: { max_offline_messages: 1 } } : 'ok'));
        const pub = await subscribeThenGoOffline(clientId, topic);
        await pub.publishAsync(topic, 'oldest', { qos: 1 });
        await pub.publishAsync(topic, 'newest', { qos: 1 });
        const drop = await recorder.waitFor('on_message_drop', clientId);
        const message = drop.args[1] as DroppedMessage;
        assert.equal(message.payload.toString(), 'oldest');
        assert.equal(message.topic, topic);
        assert.equal(message.qos, 1);
        assert.equal(drop.args[2], 'queue_full');
      });

      test("on_message_drop(..., 'expired') for a message whose expiry passed before delivery", async () => {
        const sub = await connectClient(b.port, { version });
        const topic = uniqueTopic('exp');
        await sub.subscribeAsync(topic, { qos: 1 });
        const pub = await connectClient(b.port, { version: 5 });
        await pub.publishAsync(topic, 'stale', { qos: 1, properties: { messageExpiryInterval: 0 } });
        const drop = await recorder.waitFor('on_message_drop', sub.clientId);
        assert.equal((drop.args[1] as DroppedMessage).payload.toString(), 'stale');
        assert.equal(drop.args[2], 'expired');
      });

      test("on_message_drop(..., 'max_packet_size_exceeded') for a message too large for the client", async () => {
        const sub = await connectClient(b.port, { version });
        const topic = uniqueTopic('big');
        await sub.subscribeAsync(topic, { qos: 1 });
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, Buffer.alloc(OUTGOING_LIMIT * 2, 1), { qos: 1 });
        const drop = await recorder.waitFor('on_message_drop', sub.clientId);
        assert.equal((drop.args[1] as DroppedMessage).payload.length, OUTGOING_LIMIT * 2);
        assert.equal(drop.args[2], 'max_packet_size_exceeded');
      });
    });
  }
}
