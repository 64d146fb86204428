/**
 * Unit: the memory index of the durable retained store. MemoryRetainedStore
 * tells `onRemoved` of each message it drops of its own accord (expiry,
 * eviction over maxMemoryBytes), with its pool, and of nothing a caller
 * asked for (a replacing `set`, a `delete`), so the durable store deletes
 * exactly the records the index let go. Test process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { messageBytes } from '../../src/shared/message/message-bytes.js';
import { MemoryRetainedStore, type RetainedRemoval } from '../../src/main/router/retained-store.js';

function msg(topic: string, expiresAt?: number): AppMessage {
  const m: AppMessage = { topic, payload: Buffer.alloc(100, 0x61), qos: 1, retain: true };
  if (expiresAt !== undefined) m.expiresAt = expiresAt;
  return m;
}

test('onRemoved: expired and evicted messages are reported with their pool; replaced and deleted ones are not', () => {
  const entry = 200 + messageBytes(msg('a/0'));
  const removed: Array<[string, string, RetainedRemoval]> = [];
  const store = new MemoryRetainedStore({
    maxMemoryBytes: 3 * entry,
    onRemoved: (pool, m, why) => removed.push([pool, m.topic, why]),
  });
  const now = 1_000_000;
  store.set('p', msg('a/0'), now);
  store.set('p', msg('a/0'), now); // replaced
  store.set('p', msg('a/1', now + 10), now);
  store.set('q', msg('a/9'), now);
  store.delete('q', 'a/9'); // deleted
  assert.deepEqual(removed, []);
  assert.equal(store.sweepExpired(now + 10), 1);
  assert.deepEqual(removed, [['p', 'a/1', 'expired']]);
  for (let i = 2; i < 6; i++) store.set('p', msg(`a/${i}`), now + 20);
  assert.deepEqual(removed.slice(1), [
    ['p', 'a/0', 'evicted'],
    ['p', 'a/2', 'evicted'],
  ]);
  assert.equal(store.stats().count, 3);
});
