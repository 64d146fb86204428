/**
 * Unit tests for the in-memory retained message store of
 * src/main/router/retained-store.ts (main thread): replace and delete
 * semantics, filter matching, expiry, eviction order and memory accounting
 * of one pool's RetainedTopics, and MemoryRetainedStore through the
 * RetainedStore interface (pools apart, synchronous answers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { MemoryRetainedStore, RetainedTopics } from '../../src/main/router/retained-store.js';

const BIG = 1 << 30;

function msg(topic: string, payload: string, extra: Partial<AppMessage> = {}): AppMessage {
  return { topic, payload: Buffer.from(payload), qos: 0, retain: true, ...extra };
}

function topics(store: RetainedTopics, filter: string, now = 0): string[] {
  const out: string[] = [];
  store.match(filter, now, (m) => out.push(m.topic));
  return out.sort();
}

test('a new retained message replaces the previous one for its topic [MQTT-3.3.1-5]', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a/b', 'one'), 0);
  store.set(msg('a/b', 'two'), 0);
  assert.equal(store.size, 1);
  const got: string[] = [];
  store.match('a/b', 0, (m) => got.push(m.payload.toString()));
  assert.deepEqual(got, ['two']);
});

test('an empty payload deletes the retained message and is not stored [MQTT-3.3.1-10] [MQTT-3.3.1-11]', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a/b', 'x'), 0);
  store.set(msg('a/b/c', 'y'), 0);
  store.set(msg('a/b', ''), 0);
  assert.equal(store.size, 1);
  assert.deepEqual(topics(store, '#'), ['a/b/c']);
  store.set(msg('nothing/here', ''), 0);
  assert.equal(store.size, 1);
  assert.deepEqual(topics(store, 'nothing/#'), []);
});

test('match follows the wildcard rules, including $-topics [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1]', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  const all = [
    'sport/tennis/player1',
    'sport/tennis/player1/ranking',
    'sport/tennis/player1/score/wimbledon',
    'sport/tennis/player2',
    'sport',
    'sport/',
    '/finance',
    'a//c',
    '$SYS/x',
    '$SYS/x/y',
  ];
  for (const t of all) store.set(msg(t, 'p'), 0);
  const table: Array<[string, string[]]> = [
    ['sport/tennis/player1/#', ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon']],
    ['sport/#', all.filter((t) => t.startsWith('sport'))],
    ['sport/tennis/+', ['sport/tennis/player1', 'sport/tennis/player2']],
    ['sport/+', ['sport/']],
    ['+/+', ['/finance', 'sport/']],
    ['/+', ['/finance']],
    ['+', ['sport']],
    ['a/+/c', ['a//c']],
    ['#', all.filter((t) => !t.startsWith('$'))],
    ['+/x', []],
    ['+/#', all.filter((t) => !t.startsWith('$'))],
    ['$SYS/#', ['$SYS/x', '$SYS/x/y']],
    ['$SYS/+', ['$SYS/x']],
    ['$SYS/x', ['$SYS/x']],
    ['sport/tennis', []],
    ['nope/#', []],
  ];
  for (const [filter, want] of table) assert.deepEqual(topics(store, filter), [...want].sort(), filter);
});

test('expired messages are not delivered and sweepExpired removes them', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a', '1', { expiresAt: 100 }), 0);
  store.set(msg('b', '2', { expiresAt: 200 }), 0);
  store.set(msg('c', '3'), 0);
  assert.deepEqual(topics(store, '#', 99), ['a', 'b', 'c']);
  assert.deepEqual(topics(store, '#', 100), ['b', 'c']);
  assert.deepEqual(topics(store, 'a', 150), []);
  assert.equal(store.sweepExpired(150), 1);
  assert.equal(store.size, 2);
  assert.equal(store.sweepExpired(150), 0);
  assert.equal(store.sweepExpired(1000), 1);
  assert.deepEqual(topics(store, '#', 1000), ['c']);
});

test('a message already expired when set only deletes the old one', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a', 'old'), 0);
  store.set(msg('a', 'new', { expiresAt: 5 }), 10);
  assert.equal(store.size, 0);
  assert.equal(store.memoryBytes, 0);
});

test('replacing an expiring message drops the old expiry', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a', '1', { expiresAt: 100 }), 0);
  store.set(msg('a', '2', { expiresAt: 300 }), 0);
  assert.equal(store.sweepExpired(200), 0);
  assert.deepEqual(topics(store, 'a', 200), ['a']);
  assert.equal(store.sweepExpired(300), 1);
  assert.equal(store.size, 0);
});

test('over the memory limit: expired messages are evicted first, then the oldest inserted', () => {
  const one = (() => {
    const probe = new RetainedTopics({ maxMemoryBytes: BIG });
    probe.set(msg('t0', 'x'.repeat(100)), 0);
    return probe.memoryBytes;
  })();
  const store = new RetainedTopics({ maxMemoryBytes: one * 4 });
  store.set(msg('t0', 'x'.repeat(100)), 0);
  store.set(msg('t1', 'x'.repeat(100), { expiresAt: 50 }), 0);
  store.set(msg('t2', 'x'.repeat(100)), 0);
  store.set(msg('t3', 'x'.repeat(100)), 0);
  assert.equal(store.size, 4);
  // Re-setting t0 makes it the newest; t2 is now the oldest.
  store.set(msg('t0', 'x'.repeat(100)), 0);

  store.set(msg('t4', 'x'.repeat(100)), 60); // t1 has expired: it goes, nothing live does.
  assert.deepEqual(topics(store, '#', 60), ['t0', 't2', 't3', 't4']);
  assert.equal(store.evictions, 0);

  store.set(msg('t5', 'x'.repeat(100)), 60); // the oldest live one, t2, goes.
  assert.deepEqual(topics(store, '#', 60), ['t0', 't3', 't4', 't5']);
  assert.equal(store.evictions, 1);

  store.set(msg('t6', 'x'.repeat(100)), 60); // then t3.
  assert.deepEqual(topics(store, '#', 60), ['t0', 't4', 't5', 't6']);
  assert.equal(store.evictions, 2);
  assert.ok(store.memoryBytes <= one * 4);
});

test('a message bigger than the whole limit is not kept', () => {
  const store = new RetainedTopics({ maxMemoryBytes: 1000 });
  store.set(msg('small', 'x'), 0);
  store.set(msg('huge', 'x'.repeat(2000)), 0);
  assert.equal(store.size, 0);
  assert.equal(store.memoryBytes, 0);
  assert.equal(store.evictions, 2);
});

test('memory accounting counts topic, payload and properties, and returns to 0 when all are removed', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a/b', 'x'), 0);
  const base = store.memoryBytes;
  assert.ok(base > 0);
  store.set(msg('a/b', 'x'.repeat(1001)), 0);
  assert.equal(store.memoryBytes, base + 1000);
  store.set(msg('a/bc', 'x'), 0);
  assert.equal(store.memoryBytes, base + 1000 + base + 2);
  store.set(msg('p', 'x', { expiresAt: 10 }), 0);
  const withoutProperties = store.memoryBytes;
  store.set(
    msg('p', 'x', {
      properties: { contentType: 'text/plain', correlationData: Buffer.alloc(16), userProperties: { k: ['v1', 'v2'] } },
      expiresAt: 10,
    }),
    0,
  );
  // At least the strings (2 bytes a char) and the correlation data.
  assert.ok(store.memoryBytes - withoutProperties >= ('text/plain' + 'k' + 'v1' + 'v2').length * 2 + 16);
  store.set(msg('a/b', ''), 0);
  store.set(msg('a/bc', ''), 0);
  assert.equal(store.sweepExpired(10), 1);
  assert.equal(store.size, 0);
  assert.equal(store.memoryBytes, 0);
  assert.deepEqual(topics(store, '#'), []);
});

test("delete(topic) removes the topic's message and prunes the tree", () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a/b', '1', { expiresAt: 100 }), 0);
  store.set(msg('a/c', '2'), 0);
  store.delete('a/b');
  store.delete('not/stored');
  assert.deepEqual(topics(store, '#'), ['a/c']);
  assert.equal(store.sweepExpired(1000), 0);
  store.delete('a/c');
  assert.equal(store.size, 0);
  assert.equal(store.memoryBytes, 0);
});

test('MemoryRetainedStore keeps each pool apart and answers at once', () => {
  const store = new MemoryRetainedStore({ maxMemoryBytes: BIG });
  assert.equal(store.set('', msg('a/b', 'default'), 0), undefined);
  store.set('vh', msg('a/b', 'vhost', { expiresAt: 100 }), 0);
  store.set('vh', msg('a/c', 'kept'), 0);
  const seen = (pool: string, filter: string, now = 0): string[] => {
    const out: string[] = [];
    assert.equal(
      store.match(pool, filter, now, (m) => out.push(m.payload.toString())),
      undefined,
    );
    return out.sort();
  };
  assert.deepEqual(seen('', '#'), ['default']);
  assert.deepEqual(seen('vh', 'a/+'), ['kept', 'vhost']);
  assert.deepEqual(seen('other', '#'), []);
  assert.equal(store.stats().count, 3);
  assert.equal(store.sweepExpired(100), 1);
  assert.deepEqual(seen('vh', '#', 100), ['kept']);
  assert.equal(store.delete('', 'a/b'), undefined);
  store.delete('nowhere', 'a/b');
  assert.deepEqual(seen('', '#'), []);
  const { count, bytes } = store.stats();
  assert.equal(count, 1);
  assert.ok(bytes > 0);
  store.delete('vh', 'a/c');
  assert.deepEqual(store.stats(), { count: 0, bytes: 0 });
});

test('MemoryRetainedStore bounds each pool by maxMemoryBytes on its own', () => {
  const probe = new RetainedTopics({ maxMemoryBytes: BIG });
  probe.set(msg('t', 'x'), 0);
  const store = new MemoryRetainedStore({ maxMemoryBytes: probe.memoryBytes });
  store.set('p1', msg('t', 'x'), 0);
  store.set('p2', msg('t', 'x'), 0);
  assert.equal(store.stats().count, 2);
  store.set('p1', msg('u', 'x'), 0); // evicts p1's t only
  const left: string[] = [];
  store.match('p1', '#', 0, (m) => left.push(m.topic));
  store.match('p2', '#', 0, (m) => left.push(`p2:${m.topic}`));
  assert.deepEqual(left, ['u', 'p2:t']);
});

test('deleted topics are pruned from the tree and can be stored again', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  store.set(msg('a/b/c', '1'), 0);
  store.set(msg('a', '2'), 0);
  store.set(msg('a/b/c', ''), 0);
  assert.deepEqual(topics(store, 'a/#'), ['a']);
  assert.deepEqual(topics(store, 'a/+/+'), []);
  store.set(msg('a', ''), 0);
  assert.deepEqual(topics(store, '#'), []);
  store.set(msg('a/b/c', '3'), 0);
  assert.deepEqual(topics(store, '+/+/c'), ['a/b/c']);
});

test('many replaced expiring messages: only the live expiry of each topic counts', () => {
  const store = new RetainedTopics({ maxMemoryBytes: BIG });
  for (let i = 0; i < 20_000; i++) store.set(msg(`t${i % 10}`, 'x', { expiresAt: 1_000_000 - i }), 0);
  assert.equal(store.size, 10);
  // The last writes expire at 1_000_000 - 19_990 .. 1_000_000 - 19_999.
  assert.equal(store.sweepExpired(1_000_000 - 19_995), 5);
  assert.equal(store.sweepExpired(1_000_000), 5);
  assert.equal(store.memoryBytes, 0);
});
