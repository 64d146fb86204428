/**
 * Limits: the per-session queues, bounded by maxOnlineMessages /
 * maxOfflineMessages and by maxOnlineBytes / maxOfflineBytes, under both
 * queueDropPolicy values ('oldest' with the hosts on the main thread,
 * 'newest' in a worker), MQTT 3.1.1 and 5.0. Online: a raw subscriber that
 * does not acknowledge QoS 1 keeps its receive window full (5.0: Receive
 * Maximum 1 [MQTT-3.3.4-9]; 3.1.1: maxInflightMessages 2), so later messages
 * wait in its queue; it then acknowledges one by one. Offline: a persistent
 * session gets messages while disconnected and reconnects. Each test shows
 * both sides: what fits arrives whole, what does not is dropped by the
 * policy and counted (drops.queueFull).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueueDropPolicy } from '../../src/api/config.js';
import { brokerForSuite } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  expectNoMessage,
  nextMessages,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type Version,
} from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { hostTotals, labelled, labelOf, StalledSubscriber, waitUntil } from './support.js';

const MAX_MESSAGES = 3;
/** Large messages: 10,000 B of payload, about 10.2 kB each as counted (src/shared/message/message-bytes.ts); two fit in MAX_BYTES, three do not. */
const LARGE = 10_000;
const MAX_BYTES = 25_000;
const SMALL = 10;
const INFLIGHT_V4 = 2;
const RECEIVE_MAXIMUM_V5 = 1;

const POLICIES: ReadonlyArray<{ policy: QueueDropPolicy; workers: number }> = [
  { policy: 'oldest', workers: 0 },
  { policy: 'newest', workers: 1 },
];

/** The labels of `count` messages numbered from 0, and of those a queue of `fit` keeps of the `count - sent` that wait. */
function expected(policy: QueueDropPolicy, count: number, sent: number, fit: number): string[] {
  const waiting = Array.from({ length: count - sent }, (_, i) => `m${sent + i}`);
  return policy === 'oldest' ? waiting.slice(Math.max(0, waiting.length - fit)) : waiting.slice(0, fit);
}

for (const { policy, workers } of POLICIES) {
  describe(`queueDropPolicy '${policy}' (workers ${workers})`, () => {
    const b = brokerForSuite({
      workers,
      queueDropPolicy: policy,
      maxInflightMessages: INFLIGHT_V4,
      maxOnlineMessages: MAX_MESSAGES,
      maxOfflineMessages: MAX_MESSAGES,
      maxOnlineBytes: MAX_BYTES,
      maxOfflineBytes: MAX_BYTES,
    });

    /** Publishes `count` messages of `size` to a stalled subscriber; returns what it got in order and the drops counted. */
    async function online(version: Version, count: number, size: number, fit: number): Promise<{ got: string[]; dropped: number }> {
      const window = version === 5 ? RECEIVE_MAXIMUM_V5 : INFLIGHT_V4;
      const topic = uniqueTopic('onq');
      const sub = await StalledSubscriber.open(b.port, version, topic, window);
      const before = await hostTotals(b.broker);
      for (let i = 0; i < count; i++) await b.broker.publish({ topic, payload: labelled(`m${i}`, size), qos: 1 });
      const first = await sub.take(window);
      const queued = Math.min(count - window, fit);
      await waitUntil(async () => {
        const now = await hostTotals(b.broker);
        return now.queued - before.queued === queued && now.queueFull - before.queueFull === count - window - queued;
      }, `${queued} queued`);
      const rest = await sub.drain(queued);
      return { got: [...first, ...rest], dropped: (await hostTotals(b.broker)).queueFull - before.queueFull };
    }

    /** Publishes `count` messages of `size` to a persistent session while it is offline; returns what it got on reconnect. */
    async function offline(version: Version, count: number, size: number, fit: number): Promise<{ got: string[]; dropped: number }> {
      const clientId = uniqueId(`oq${version}`);
      const topic = uniqueTopic('offq');
      const sub = await connectClient(b.port, { version, clientId, ...persistent(version) });
      await sub.subscribeAsync(topic, { qos: 1 });
      await closeClient(sub);
      await waitUntil(async () => (await hostTotals(b.broker)).connected === 0, 'the session went offline');
      const before = await hostTotals(b.broker);
      for (let i = 0; i < count; i++) await b.broker.publish({ topic, payload: labelled(`m${i}`, size), qos: 1 });
      await waitUntil(
        async () => (await hostTotals(b.broker)).queueFull - before.queueFull === count - Math.min(count, fit),
        'drops counted',
      );
      const back = await connectClient(b.port, { version, clientId, ...persistent(version) });
      const got = await nextMessages(back, Math.min(count, fit), (m) => m.topic === topic);
      await expectNoMessage(back, 100, (m) => m.topic === topic);
      await closeClient(back);
      return { got: got.map((m) => labelOf(m.payload)), dropped: (await hostTotals(b.broker)).queueFull - before.queueFull };
    }

    for (const version of VERSIONS) {
      const window = version === 5 ? RECEIVE_MAXIMUM_V5 : INFLIGHT_V4;
      const sent = Array.from({ length: window }, (_, i) => `m${i}`);
      const windowName = version === 5 ? `Receive Maximum ${window} [MQTT-3.3.4-9]` : `maxInflightMessages ${window}`;

      describe(label(version), () => {
        test(`maxOnlineMessages ${MAX_MESSAGES}: with the ${windowName} full, ${MAX_MESSAGES} more wait and all arrive; ${MAX_MESSAGES} + 2 more lose 2 (${policy})`, async () => {
          const within = await online(version, window + MAX_MESSAGES, SMALL, MAX_MESSAGES);
          assert.deepEqual(
            within.got,
            Array.from({ length: window + MAX_MESSAGES }, (_, i) => `m${i}`),
          );
          assert.equal(within.dropped, 0);
          const over = await online(version, window + MAX_MESSAGES + 2, SMALL, MAX_MESSAGES);
          assert.deepEqual(over.got, [...sent, ...expected(policy, window + MAX_MESSAGES + 2, window, MAX_MESSAGES)]);
          assert.equal(over.dropped, 2);
        });

        test(`maxOnlineBytes ${MAX_BYTES}: two messages of ${LARGE} B wait and arrive; four lose two (${policy})`, async () => {
          const within = await online(version, window + 2, LARGE, 2);
          assert.deepEqual(
            within.got,
            Array.from({ length: window + 2 }, (_, i) => `m${i}`),
          );
          assert.equal(within.dropped, 0);
          const over = await online(version, window + 4, LARGE, 2);
          assert.deepEqual(over.got, [...sent, ...expected(policy, window + 4, window, 2)]);
          assert.equal(over.dropped, 2);
        });

        test(`maxOfflineMessages ${MAX_MESSAGES}: an offline session given ${MAX_MESSAGES} gets them all; given ${MAX_MESSAGES} + 2 it gets ${MAX_MESSAGES} (${policy})`, async () => {
          const within = await offline(version, MAX_MESSAGES, SMALL, MAX_MESSAGES);
          assert.deepEqual(within.got, ['m0', 'm1', 'm2']);
          assert.equal(within.dropped, 0);
          const over = await offline(version, MAX_MESSAGES + 2, SMALL, MAX_MESSAGES);
          assert.deepEqual(over.got, expected(policy, MAX_MESSAGES + 2, 0, MAX_MESSAGES));
          assert.equal(over.dropped, 2);
        });

        test(`maxOfflineBytes ${MAX_BYTES}: an offline session given two messages of ${LARGE} B gets both; given four it gets two (${policy})`, async () => {
          const within = await offline(version, 2, LARGE, 2);
          assert.deepEqual(within.got, ['m0', 'm1']);
          assert.equal(within.dropped, 0);
          const over = await offline(version, 4, LARGE, 2);
          assert.deepEqual(over.got, expected(policy, 4, 0, 2));
          assert.equal(over.dropped, 2);
        });
      });
    }

    test(`a message larger than maxOnlineBytes alone is dropped and counted, the queue keeps what it held (${policy})`, async () => {
      const topic = uniqueTopic('huge');
      const sub = await StalledSubscriber.open(b.port, 5, topic, 1);
      const before = await hostTotals(b.broker);
      await b.broker.publish({ topic, payload: labelled('m0', SMALL), qos: 1 });
      await b.broker.publish({ topic, payload: labelled('m1', SMALL), qos: 1 });
      await b.broker.publish({ topic, payload: labelled('m2', MAX_BYTES), qos: 1 });
      assert.deepEqual(await sub.take(1), ['m0']);
      await waitUntil(async () => (await hostTotals(b.broker)).queueFull - before.queueFull === 1, 'the large message dropped');
      assert.deepEqual(await sub.drain(1), ['m1']);
    });
  });
}
