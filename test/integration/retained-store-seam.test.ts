/**
 * Integration: the RetainedStore seam with a store that answers later, over
 * real sockets, under MQTT 3.1.1 and 5.0. The store below keeps its messages
 * in a MemoryRetainedStore and gives every answer on a later event-loop turn
 * (setImmediate), or, while `hold` is set, when the test releases it: a
 * durable or remote store behaves so. Retained messages still reach a new
 * subscription after its SUBACK, in the store's order, with expiry and
 * clearing honoured, and a lookup answered after an UNSUBSCRIBE delivers
 * nothing. One broker with two workers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import type { RetainedStore, RetainedStoreStats } from '../../src/api/retained-store.js';
import { MemoryRetainedStore } from '../../src/main/router/retained-store.js';
import { brokerForSuite } from '../helpers/broker.js';
import {
  connectClient,
  expectNoMessage,
  nextMessage,
  nextMessages,
  pendingMessages,
  uniqueTopic,
  VERSIONS,
  WAIT_MS,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { waitUntil } from '../helpers/wait.js';

class LaterStore implements RetainedStore {
  private readonly inner = new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 });
  /** While true, `match` answers wait for release(). */
  hold = false;
  /** The topics `match` visited, in its order. */
  readonly visited: string[] = [];
  private held: Array<() => void> = [];
  private waiter: (() => void) | undefined;

  set(pool: string, message: AppMessage, now: number): Promise<void> {
    return nextTurn(() => this.inner.set(pool, message, now));
  }

  delete(pool: string, topic: string): Promise<void> {
    return nextTurn(() => this.inner.delete(pool, topic));
  }

  match(pool: string, filter: string, now: number, visit: (message: AppMessage) => void): Promise<void> {
    return new Promise((resolve) => {
      const answer = (): void => {
        this.inner.match(pool, filter, now, (message) => {
          this.visited.push(message.topic);
          visit(message);
        });
        resolve();
      };
      if (!this.hold) {
        setImmediate(answer);
        return;
      }
      this.held.push(answer);
      this.waiter?.();
    });
  }

  sweepExpired(now: number): Promise<number> {
    return nextTurn(() => this.inner.sweepExpired(now));
  }

  stats(): RetainedStoreStats {
    return this.inner.stats();
  }

  /** Resolves once a held `match` waits. */
  async matchHeld(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (this.held.length === 0) {
      if (Date.now() > deadline) throw new Error('no retained lookup came to the store');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Answers the held lookups and stops holding. */
  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const answer of held) answer();
  }
}

function nextTurn<T>(answer: () => T): Promise<T> {
  return new Promise((resolve) => setImmediate(() => resolve(answer())));
}

const store = new LaterStore();
const b = brokerForSuite({ workers: 2 }, { dependencies: { retainedStore: store } });

/** Publishes retained `payload` on `topic` and waits until `observer` (subscribed to it) got it live. */
async function publishRetained(pub: TestClient, observer: TestClient, topic: string, payload: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  await pub.publishAsync(topic, payload, { qos, retain: true });
  await nextMessage(observer, (x) => x.topic === topic && x.payload.toString() === payload);
}

async function setup(version: Version, filter: string): Promise<{ pub: TestClient; observer: TestClient }> {
  const observer = await connectClient(b.port, { version });
  await observer.subscribeAsync(filter, { qos: 2 });
  const pub = await connectClient(b.port, { version });
  return { pub, observer };
}

/** Waits until the store holds `count` messages (its writes answer on a later turn than the live delivery). */
function storeHolds(count: number): Promise<void> {
  return waitUntil(() => store.stats().count === count, `the store holds ${count} messages`, WAIT_MS);
}

for (const version of VERSIONS) {
  describe(`retained messages through a store that answers later (${label(version)})`, () => {
    test(`${rule(version, '3.3.1-6', '3.3.1-9')} retained messages reach a new subscription after its SUBACK, with RETAIN = 1, in the store's order`, async () => {
      const base = uniqueTopic('rsl');
      const { pub, observer } = await setup(version, `${base}/#`);
      const before = store.stats().count;
      for (const [i, leaf] of ['c', 'a', 'b/d', 'b'].entries()) await publishRetained(pub, observer, `${base}/${leaf}`, `p${i}`, 1);
      await storeHolds(before + 4);
      store.hold = true;
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(`${base}/#`, { qos: 1 });
      await store.matchHeld();
      assert.equal(pendingMessages(late).length, 0, 'nothing before the store answered');
      const from = store.visited.length;
      store.release();
      const got = await nextMessages(late, 4);
      assert.deepEqual(
        got.map((m) => m.topic),
        store.visited.slice(from),
      );
      assert.ok(got.every((m) => m.packet.retain && m.packet.qos === 1));
      assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['p0', 'p1', 'p2', 'p3']);
    });

    test(`${rule(version, '3.3.1-10', '3.3.1-6')} ${rule(version, '3.3.1-11', '3.3.1-7')} an empty retained payload clears the topic in the store`, async () => {
      const topic = uniqueTopic('rsc');
      const { pub, observer } = await setup(version, topic);
      const before = store.stats().count;
      await publishRetained(pub, observer, topic, 'to-be-cleared');
      await storeHolds(before + 1);
      await publishRetained(pub, observer, topic, '');
      await storeHolds(before);
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      await pub.publishAsync(topic, 'sentinel', { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'sentinel');
      assert.equal(m.packet.retain, false);
    });

    test(`${version === 5 ? '[MQTT-3.3.2-5] ' : ''}an expired retained message is not sent; one still valid is`, async () => {
      const base = uniqueTopic('rse');
      const before = store.stats().count;
      await b.broker.publish({ topic: `${base}/short`, payload: 'short', qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      await b.broker.publish({ topic: `${base}/long`, payload: 'long', qos: 1, retain: true, properties: { messageExpiryInterval: 600 } });
      await storeHolds(before + 2);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(`${base}/+`, { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'long');
      if (version === 5) {
        const interval = m.packet.properties?.messageExpiryInterval;
        assert.ok(interval !== undefined && interval <= 600 && interval >= 598, `Message Expiry Interval ${interval}`);
      }
      await expectNoMessage(late, 100);
    });

    test('a retained lookup answered after an UNSUBSCRIBE delivers nothing', async () => {
      const topic = uniqueTopic('rsu');
      const { pub, observer } = await setup(version, topic);
      const before = store.stats().count;
      await publishRetained(pub, observer, topic, 'kept');
      await storeHolds(before + 1);
      store.hold = true;
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      await store.matchHeld();
      await late.unsubscribeAsync(topic);
      store.release();
      await expectNoMessage(late, 100);
      await late.subscribeAsync(topic, { qos: 1 });
      assert.equal((await nextMessage(late)).payload.toString(), 'kept', 'a new SUBSCRIBE gets it');
    });

    test('stats count what the store holds', async () => {
      const topic = uniqueTopic('rss');
      const before = (await b.broker.stats()).router.retained;
      await b.broker.publish({ topic, payload: 'counted', retain: true });
      await storeHolds(before + 1);
      const { retained, retainedBytes } = (await b.broker.stats()).router;
      assert.equal(retained, before + 1);
      assert.equal(retainedBytes, store.stats().bytes);
    });
  });
}
