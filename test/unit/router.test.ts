/**
 * Unit tests of the router against its seams (main thread). RetainedStore: a
 * store that answers at once is used synchronously; one that answers with a
 * promise has its retained messages delivered in its order, only while the
 * subscription that asked stands; its failures are logged, not thrown.
 * RouterBridge: it hears of the messages without an origin once routed, of
 * a filter's first and last local subscription (shared groups by group),
 * and its throws are logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import type { DeliveryTarget, SubscribeRequest } from '../../src/shared/channel/frames.js';
import type { RetainedStore, RetainedStoreStats } from '../../src/api/retained-store.js';
import type { RouterBridge } from '../../src/api/bridge.js';
import type { Logger } from '../../src/shared/log.js';
import { MemoryRetainedStore } from '../../src/main/router/retained-store.js';
import { Router } from '../../src/main/router/router.js';

interface Delivered {
  host: number;
  topic: string;
  payload: string;
  target: DeliveryTarget;
}

function msg(topic: string, payload: string, extra: Partial<AppMessage> = {}): AppMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: true, ...extra };
}

function req(sid: number, filter: string, extra: Partial<SubscribeRequest> = {}): SubscribeRequest {
  return { pool: '', sid, filter, qos: 2, noLocal: false, retainAsPublished: false, subscriptionId: 0, sendRetained: true, ...extra };
}

/** A store whose every answer waits until `release()`: the memory store's answer, handed over later. */
class HeldStore implements RetainedStore {
  readonly inner = new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 });
  readonly calls: string[] = [];
  private held: Array<() => void> = [];
  failNext = false;

  set(pool: string, message: AppMessage, now: number): Promise<void> {
    this.calls.push(`set ${message.topic}`);
    return this.later(() => this.inner.set(pool, message, now));
  }

  delete(pool: string, topic: string): Promise<void> {
    this.calls.push(`delete ${topic}`);
    return this.later(() => this.inner.delete(pool, topic));
  }

  match(pool: string, filter: string, now: number, visit: (message: AppMessage) => void): Promise<void> {
    this.calls.push(`match ${filter}`);
    return this.later(() => this.inner.match(pool, filter, now, visit));
  }

  sweepExpired(now: number): Promise<number> {
    this.calls.push('sweep');
    return this.later(() => this.inner.sweepExpired(now));
  }

  stats(): RetainedStoreStats {
    return this.inner.stats();
  }

  /** Runs every held answer, in order; the promises settle after. */
  async release(): Promise<void> {
    const held = this.held;
    this.held = [];
    for (const run of held) run();
    await new Promise((resolve) => setImmediate(resolve));
  }

  private later<T>(answer: () => T): Promise<T> {
    const fail = this.failNext;
    this.failNext = false;
    return new Promise<T>((resolve, reject) => {
      this.held.push(() => (fail ? reject(new Error('store down')) : resolve(answer())));
    });
  }
}

function setup(store: RetainedStore, hosts = 1): { router: Router; delivered: Delivered[]; errors: unknown[] } {
  const delivered: Delivered[] = [];
  const errors: unknown[] = [];
  const log = {
    error: (obj: unknown) => {
      errors.push(obj);
    },
  } as unknown as Logger;
  const router = new Router(
    hosts,
    (host, message, targets) => {
      for (const target of targets) delivered.push({ host, topic: message.topic, payload: message.payload.toString(), target });
    },
    store,
    log,
  );
  return { router, delivered, errors };
}

test('a store that answers at once: retained messages are delivered within subscribe, as stored targets', () => {
  const { router, delivered } = setup(new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 }));
  router.route('', msg('a/b', 'kept', { qos: 2 }), -1, 0);
  router.subscribe(0, req(7, 'a/+', { qos: 1, subscriptionId: 4 }));
  assert.deepEqual(delivered, [
    { host: 0, topic: 'a/b', payload: 'kept', target: { sid: 7, qos: 1, retain: true, subscriptionIds: [4], stored: true } },
  ]);
  assert.deepEqual(router.stats().retained, 1);
});

test('a store that answers later: the messages come once it answers, in its order, after the set before them', async () => {
  const store = new HeldStore();
  const { router, delivered } = setup(store);
  router.route('', msg('a/1', 'one'), -1, 0);
  router.route('', msg('a/2', 'two'), -1, 0);
  router.route('', msg('a/1', ''), -1, 0);
  router.subscribe(0, req(1, 'a/#'));
  assert.deepEqual(store.calls, ['set a/1', 'set a/2', 'delete a/1', 'match a/#']);
  assert.equal(delivered.length, 0);
  await store.release();
  assert.deepEqual(
    delivered.map((d) => [d.topic, d.payload, d.target.stored]),
    [['a/2', 'two', true]],
  );
});

test('a store that answers later: no delivery after unsubscribe, the end of the session or the loss of its host', async () => {
  const store = new HeldStore();
  const { router, delivered } = setup(store, 2);
  store.inner.set('', msg('x/y', 'kept'), 0);
  router.subscribe(0, req(1, 'x/y'));
  router.unsubscribe(0, '', 1, 'x/y');
  router.subscribe(0, req(2, 'x/#'));
  router.drop(0, 2);
  router.subscribe(1, req(1, '#'));
  router.clearHost(1);
  router.subscribe(0, req(3, 'x/+'));
  await store.release();
  assert.deepEqual(
    delivered.map((d) => [d.host, d.target.sid, d.topic]),
    [[0, 3, 'x/y']],
  );
});

test('a store that answers later: a new SUBSCRIBE that sends retained messages supersedes the pending lookup; one that does not keeps it', async () => {
  const store = new HeldStore();
  const { router, delivered } = setup(store);
  store.inner.set('', msg('s/t', 'kept', { qos: 2 }), 0);
  router.subscribe(0, req(1, 's/t', { qos: 2 }));
  router.subscribe(0, req(1, 's/t', { qos: 1 }));
  router.subscribe(0, req(2, 's/t', { qos: 2 }));
  router.subscribe(0, req(2, 's/t', { qos: 0, sendRetained: false, subscriptionId: 9 }));
  await store.release();
  assert.deepEqual(
    delivered.map((d) => [d.target.sid, d.target.qos, d.target.subscriptionIds]),
    [
      [1, 1, []],
      [2, 0, [9]],
    ],
  );
});

test('a store that fails: the rejection is logged and routing goes on', async () => {
  const store = new HeldStore();
  const { router, delivered, errors } = setup(store);
  router.subscribe(0, req(1, 'live'));
  store.failNext = true;
  router.route('', msg('live', 'x'), -1, 0);
  assert.equal(delivered.length, 1, 'the live delivery does not wait for the store');
  store.failNext = true;
  router.subscribe(0, req(2, '#'));
  await store.release();
  assert.deepEqual(
    errors.map((e) => (e as { operation: string }).operation),
    ['set', 'match'],
  );
});

test('sweepRetained goes through the store, and not again while a sweep that answered later runs', async () => {
  const memory = new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 });
  const { router } = setup(memory);
  router.route('', msg('e', 'x', { expiresAt: 50 }), -1, 0, 0);
  assert.equal(router.stats().retained, 1);
  router.sweepRetained(50);
  assert.equal(router.stats().retained, 0);

  const store = new HeldStore();
  const held = setup(store).router;
  held.sweepRetained(1);
  held.sweepRetained(2);
  assert.deepEqual(store.calls, ['sweep']);
  await store.release();
  held.sweepRetained(3);
  assert.deepEqual(store.calls, ['sweep', 'sweep']);
});

/** A bridge that writes down what it is told. */
class RecordingBridge implements RouterBridge {
  readonly calls: string[] = [];
  onRouted(pool: string, message: AppMessage): void {
    this.calls.push(`routed ${pool}:${message.topic}`);
  }
  onFilterAdded(pool: string, filter: string, group: string | undefined): void {
    this.calls.push(`added ${pool}:${filter}${group === undefined ? '' : ` group ${group}`}`);
  }
  onFilterRemoved(pool: string, filter: string, group: string | undefined): void {
    this.calls.push(`removed ${pool}:${filter}${group === undefined ? '' : ` group ${group}`}`);
  }
}

test('the bridge hears of messages routed here, after their local delivery, and not of those it brought', () => {
  const { router, delivered } = setup(new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 }));
  const bridge = new RecordingBridge();
  let deliveredWhenTold = -1;
  bridge.onRouted = (pool, message) => {
    deliveredWhenTold = delivered.length;
    bridge.calls.push(`routed ${pool}:${message.topic}`);
  };
  router.attachBridge(bridge);
  router.subscribe(0, req(1, 'a/#', { sendRetained: false }));
  bridge.calls.length = 0;
  router.route('vh', msg('a/b', 'x', { retain: false }), 0, 5);
  router.route('', msg('a/b', 'x', { retain: false }), 0, 5);
  assert.equal(deliveredWhenTold, 1);
  router.routeFromBridge('', msg('a/c', 'y', { qos: 2 }), 'node-b');
  assert.deepEqual(bridge.calls, ['routed vh:a/b', 'routed :a/b']);
  assert.deepEqual(
    delivered.map((d) => [d.topic, d.target.qos]),
    [
      ['a/b', 1],
      ['a/c', 2],
    ],
  );
  assert.throws(() => router.routeFromBridge('', msg('a/+', 'z'), 'node-b'), TypeError);
  assert.throws(() => router.attachBridge(new RecordingBridge()), /already attached/);
});

test("the bridge hears of a filter's first and last local subscription, over hosts and shared groups, and of those before it came", () => {
  const { router } = setup(new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 }), 2);
  const bridge = new RecordingBridge();
  router.subscribe(0, req(1, 'early/+'));
  router.subscribe(1, req(1, 'early/+'));
  router.attachBridge(bridge);
  assert.deepEqual(bridge.calls, ['added :early/+']);
  bridge.calls.length = 0;

  router.subscribe(0, req(1, 'x/y'));
  router.subscribe(0, req(1, 'x/y', { qos: 1 }));
  router.subscribe(1, req(4, 'x/y'));
  router.subscribe(0, req(2, 'x/y', { pool: 'vh' }));
  router.subscribe(0, req(1, '$share/g/x/y'));
  router.subscribe(1, req(3, '$share/g/x/y'));
  router.subscribe(1, req(3, '$share/h/x/y'));
  assert.deepEqual(bridge.calls, ['added :x/y', 'added vh:x/y', 'added :x/y group g', 'added :x/y group h']);
  bridge.calls.length = 0;

  router.unsubscribe(0, '', 1, 'x/y');
  router.unsubscribe(0, '', 1, 'x/y');
  router.unsubscribe(0, '', 1, '$share/g/x/y');
  assert.deepEqual(bridge.calls, []);
  router.drop(1, 3);
  assert.deepEqual(bridge.calls, ['removed :x/y group g', 'removed :x/y group h']);
  bridge.calls.length = 0;
  router.clearHost(1);
  router.drop(0, 2);
  router.unsubscribe(0, '', 1, 'early/+');
  assert.deepEqual(bridge.calls, ['removed :x/y', 'removed vh:x/y', 'removed :early/+']);
});

test('a bridge that throws is logged; routing and subscribing go on', () => {
  const { router, delivered, errors } = setup(new MemoryRetainedStore({ maxMemoryBytes: 1 << 30 }));
  router.attachBridge({
    onRouted: () => {
      throw new Error('link down');
    },
    onFilterAdded: () => {
      throw new Error('link down');
    },
    onFilterRemoved: () => undefined,
  });
  router.subscribe(0, req(1, 't'));
  router.route('', msg('t', 'x'), -1, 0);
  router.route('', msg('t', 'y'), -1, 0);
  assert.equal(delivered.length, 2);
  assert.equal(errors.length, 3);
});
