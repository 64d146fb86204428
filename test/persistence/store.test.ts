/**
 * Unit: the data directory and the durable retained store on their own,
 * over LMDB in a temporary directory: every write of one event-loop turn is
 * one transaction (group commit); topics too long for an LMDB key, pools
 * and properties come back after a reopen; `sync` writes resolve; a write
 * after close rejects and never throws. Test process, main thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { createLogger } from '../../src/shared/log.js';
import { DataDir } from '../../src/main/store/data-dir.js';
import { LmdbRetainedStore, MAX_PLAIN_KEY, retainedKey } from '../../src/main/store/lmdb-retained-store.js';
import { tempDir } from './support.js';

const log = createLogger('silent', 'main');

function open(dir: string, durability: 'os' | 'sync' = 'os'): { dd: DataDir; store: LmdbRetainedStore } {
  const dd = DataDir.open(dir, durability, log);
  return { dd, store: new LmdbRetainedStore(dd, { maxMemoryBytes: 1 << 30 }, log) };
}

function all(store: LmdbRetainedStore, pool: string, filter = '#'): AppMessage[] {
  const out: AppMessage[] = [];
  store.match(pool, filter, Date.now(), (m) => out.push(m));
  return out;
}

test('group commit: the writes of one event-loop turn are one LMDB transaction', async () => {
  const { dd, store } = open(tempDir());
  try {
    await dd.env.committed;
    const before = dd.env.getStats() as { lastTxnId: number };
    const writes = [];
    for (let i = 0; i < 100; i++)
      writes.push(store.set('', { topic: `g/${i}`, payload: Buffer.from('x'), qos: 0, retain: true }, Date.now()));
    await Promise.all(writes);
    const after = dd.env.getStats() as { lastTxnId: number };
    assert.equal(after.lastTxnId - before.lastTxnId, 1, 'one transaction for 100 writes');
    for (let i = 0; i < 3; i++) await store.set('', { topic: `h/${i}`, payload: Buffer.from('x'), qos: 0, retain: true }, Date.now());
    assert.equal((dd.env.getStats() as { lastTxnId: number }).lastTxnId - after.lastTxnId, 3, 'one per turn');
  } finally {
    store.close();
    await dd.close();
  }
});

test('long topics (hashed keys), pools and properties come back after a reopen; sync writes resolve', async () => {
  const dir = tempDir();
  const long = `l/${'x'.repeat(65_000)}`;
  assert.ok(retainedKey('', long).length < MAX_PLAIN_KEY);
  let { dd, store } = open(dir, 'sync');
  const now = Date.now();
  await store.set('', { topic: long, payload: Buffer.from('long'), qos: 1, retain: true }, now);
  await store.set('vhost-ü', { topic: 'a/ü/€', payload: Buffer.from('pooled'), qos: 2, retain: true, expiresAt: now + 60_000 }, now);
  await store.set(
    '',
    {
      topic: 'p/1',
      payload: Buffer.from('props'),
      qos: 0,
      retain: true,
      properties: { contentType: 'c', correlationData: Buffer.from([9, 0, 9]), userProperties: { k: ['v1', 'v2'] } },
    },
    now,
  );
  store.close();
  await dd.close();

  ({ dd, store } = open(dir));
  try {
    assert.equal(store.stats().count, 3);
    assert.deepEqual(
      all(store, '', 'l/+').map((m) => m.topic),
      [long],
    );
    const [pooled] = all(store, 'vhost-ü');
    assert.equal(pooled?.payload.toString(), 'pooled');
    assert.equal(pooled.qos, 2);
    assert.equal(pooled.expiresAt, now + 60_000);
    assert.deepEqual(all(store, '', 'a/#'), [], 'pools stay apart');
    const [props] = all(store, '', 'p/1');
    assert.deepEqual(props?.properties, { contentType: 'c', correlationData: Buffer.from([9, 0, 9]), userProperties: { k: ['v1', 'v2'] } });
  } finally {
    store.close();
    await dd.close();
  }
});

test('a write after close rejects; it does not throw', async () => {
  const { dd, store } = open(tempDir());
  store.close();
  await dd.close();
  await assert.rejects(store.set('', { topic: 'x', payload: Buffer.from('x'), qos: 0, retain: true }, Date.now()), /closed/);
  await assert.rejects(store.delete('', 'x'), /closed/);
});
