/**
 * Persistence: retained messages kept in a data directory (config.dataDir,
 * LMDB on disk in a temporary directory), with real brokers and mqtt.js
 * clients over sockets, MQTT 3.1.1 and 5.0. They survive a graceful close
 * and a new broker on the same directory, with another worker count and
 * either durability; a cleared topic stays cleared; Message Expiry counts
 * the time the broker was down; eviction by maxRetainedMemory deletes the
 * records too. Faults: a second broker on the same directory, a directory
 * of a newer format, one that cannot be created, a stale lock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { createBroker, MemoryRetainedStore } from '../../src/index.js';
import type { BrokerConfig } from '../../src/api/config.js';
import { messageBytes } from '../../src/shared/message/message-bytes.js';
import { FORMAT_KEY, LMDB_DIR, LMDB_OPTIONS, LOCK_FILE, SUB_DATABASES } from '../../src/shared/store/layout.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import {
  closeAllClients,
  connectClient,
  expectNoMessage,
  nextMessages,
  uniqueTopic,
  VERSIONS,
  type Received,
  type Version,
} from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { retainedRecords, tempDir } from './support.js';
import { waitUntil } from '../helpers/wait.js';

/** A broker on `dataDir`; closed by the caller (restarts are the point). */
function brokerOn(dataDir: string, overrides: Partial<BrokerConfig> = {}): Promise<TestBroker> {
  return startBroker({ dataDir, ...overrides });
}

/** Subscribes a new client of `version` to `filter` and answers the `count` retained messages it gets, by topic, then checks nothing more comes. */
async function retainedFor(port: number, version: Version, filter: string, count: number): Promise<Map<string, Received>> {
  const sub = await connectClient(port, { version });
  await sub.subscribeAsync(filter, { qos: 1 });
  const got = await nextMessages(sub, count);
  await expectNoMessage(sub, 100);
  await closeAllClients();
  return new Map(got.map((m) => [m.topic, m]));
}

for (const version of VERSIONS) {
  describe(`retained messages in a data directory (${label(version)})`, () => {
    for (const [durability, workers] of [
      ['os', [1, 2]],
      ['sync', [2, 0]],
    ] as const) {
      test(`${rule(version, '3.3.1-5')} ${rule(version, '3.3.1-6', '3.3.1-9')} retained messages survive a restart on the same directory (durability ${durability}, ${workers[0]} then ${workers[1]} workers)`, async () => {
        const dir = tempDir();
        const base = uniqueTopic('pr');
        let b = await brokerOn(dir, { workers: workers[0], durability });
        const pub = await connectClient(b.port, { version });
        const properties =
          version === 5
            ? {
                contentType: 'text/plain',
                responseTopic: `${base}/reply`,
                correlationData: Buffer.from([0, 1, 2, 255]),
                userProperties: { origin: 'test', tags: ['a', 'b'] },
                payloadFormatIndicator: true,
              }
            : undefined;
        await pub.publishAsync(`${base}/a`, 'old', { qos: 1, retain: true });
        await pub.publishAsync(`${base}/a`, 'new', { qos: 1, retain: true, properties });
        await pub.publishAsync(`${base}/b/c`, Buffer.alloc(3000, 0x62), { qos: 2, retain: true });
        await pub.publishAsync(`${base}/q0`, 'zero', { qos: 0, retain: true });
        await waitUntil(async () => (await b.broker.stats()).router.retained === 3, 'three retained messages stored');
        await closeAllClients();
        await b.close();
        assert.ok(!existsSync(join(dir, LOCK_FILE)), 'close() releases the lock');

        b = await brokerOn(dir, { workers: workers[1], durability });
        try {
          assert.equal((await b.broker.stats()).router.retained, 3, 'loaded at start');
          const got = await retainedFor(b.port, version, `${base}/#`, 3);
          const a = got.get(`${base}/a`);
          assert.equal(a?.payload.toString(), 'new', 'the last retained message of a topic replaces the one before');
          assert.equal(a.packet.retain, true);
          assert.equal(a.packet.qos, 1);
          if (version === 5) {
            const p = a.packet.properties!;
            assert.equal(p.contentType, 'text/plain');
            assert.equal(p.responseTopic, `${base}/reply`);
            assert.deepEqual(p.correlationData, Buffer.from([0, 1, 2, 255]));
            assert.deepEqual({ ...p.userProperties }, { origin: 'test', tags: ['a', 'b'] });
            assert.equal(p.payloadFormatIndicator, true);
          }
          assert.deepEqual(got.get(`${base}/b/c`)?.payload, Buffer.alloc(3000, 0x62));
          assert.equal(got.get(`${base}/b/c`)?.packet.qos, 1, 'QoS 2 stored, sent at the subscription QoS');
          assert.equal(got.get(`${base}/q0`)?.packet.qos, 0, 'QoS 0 stored with its QoS');
        } finally {
          await b.close();
        }
      });
    }

    test(`${rule(version, '3.3.1-10', '3.3.1-6')} ${rule(version, '3.3.1-11', '3.3.1-7')} a cleared retained message stays cleared after a restart`, async () => {
      const dir = tempDir();
      const base = uniqueTopic('pc');
      let b = await brokerOn(dir, { workers: 0 });
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(`${base}/gone`, 'to-be-cleared', { qos: 1, retain: true });
      await pub.publishAsync(`${base}/kept`, 'kept', { qos: 1, retain: true });
      await pub.publishAsync(`${base}/gone`, '', { qos: 1, retain: true });
      await waitUntil(async () => (await b.broker.stats()).router.retained === 1, 'one retained message left');
      await closeAllClients();
      await b.close();
      assert.equal(await retainedRecords(dir), 1, 'the cleared record is deleted from disk');

      b = await brokerOn(dir, { workers: 1 });
      try {
        const got = await retainedFor(b.port, version, `${base}/#`, 1);
        assert.deepEqual([...got.keys()], [`${base}/kept`]);
      } finally {
        await b.close();
      }
    });

    test(`${version === 5 ? '[MQTT-3.3.2-5] ' : ''}Message Expiry counts the time the broker was stopped: a retained message past its deadline is gone after a restart`, async () => {
      const dir = tempDir();
      const base = uniqueTopic('px');
      let b = await brokerOn(dir, { workers: 0 });
      await b.broker.publish({ topic: `${base}/short`, payload: 'short', qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      await b.broker.publish({ topic: `${base}/long`, payload: 'long', qos: 1, retain: true, properties: { messageExpiryInterval: 600 } });
      const deadline = Date.now() + 1000; // the short message's expiresAt is at most this
      await b.close();
      assert.equal(await retainedRecords(dir), 2);
      await waitUntil(() => Date.now() > deadline, 'the 1 s deadline passed', 3_000);

      b = await brokerOn(dir, { workers: 1 });
      try {
        assert.equal((await b.broker.stats()).router.retained, 1, 'the expired message is not loaded');
        const got = await retainedFor(b.port, version, `${base}/+`, 1);
        const long = got.get(`${base}/long`);
        assert.equal(long?.payload.toString(), 'long');
        if (version === 5) {
          const interval = long.packet.properties?.messageExpiryInterval;
          assert.ok(
            interval !== undefined && interval <= 600 && interval >= 590,
            `Message Expiry Interval ${interval} counts down across the restart`,
          );
        }
      } finally {
        await b.close();
      }
      assert.equal(await retainedRecords(dir), 1, 'the expired record is deleted at load');
    });
  });
}

describe('retained messages in a data directory: bounds and faults', () => {
  test('maxRetainedMemory: messages evicted from memory are deleted from disk; after a restart the oldest written still go first', async () => {
    const dir = tempDir();
    const base = uniqueTopic('pe');
    const entry = 200 + messageBytes({ topic: `${base}/k0`, payload: Buffer.alloc(1000), qos: 0, retain: true });
    const maxRetainedMemory = 4 * entry + Math.floor(entry / 2);
    const publish = (b: TestBroker, leaf: string): Promise<void> =>
      b.broker.publish({ topic: `${base}/${leaf}`, payload: Buffer.alloc(1000, 0x61), retain: true });
    let b = await brokerOn(dir, { workers: 0, maxRetainedMemory });
    for (const leaf of ['k5', 'k4', 'k3', 'k2', 'k1', 'k0']) await publish(b, leaf); // written against key order
    assert.equal((await b.broker.stats()).router.retained, 4);
    await b.close();
    assert.equal(await retainedRecords(dir), 4, 'the 2 evicted records (k5, k4) are deleted');

    b = await brokerOn(dir, { workers: 0, maxRetainedMemory });
    try {
      await publish(b, 'k9');
      const got = await retainedFor(b.port, 5, `${base}/#`, 4);
      assert.deepEqual(
        [...got.keys()].sort(),
        ['k0', 'k1', 'k2', 'k9'].map((k) => `${base}/${k}`),
        'k3, the oldest written, was evicted',
      );
    } finally {
      await b.close();
    }
    assert.equal(await retainedRecords(dir), 4);
  });

  test("an application's own retained store is used with a data directory too; the directory is still opened and locked", async () => {
    const dir = tempDir();
    const own = new MemoryRetainedStore({ maxMemoryBytes: 1 << 20 });
    const b = await startBroker({ dataDir: dir, workers: 0 }, { dependencies: { retainedStore: own } });
    try {
      assert.ok(existsSync(join(dir, LOCK_FILE)));
      await b.broker.publish({ topic: 'own/x', payload: 'x', retain: true });
      assert.equal(own.stats().count, 1);
    } finally {
      await b.close();
    }
    assert.equal(await retainedRecords(dir), 0, 'nothing written to the data directory');
  });

  test('a second broker on the same directory fails listen() with one line naming the directory; it starts once the first closed', async () => {
    const dir = tempDir();
    const first = await brokerOn(dir, { workers: 0 });
    const second = createBroker({ host: '127.0.0.1', port: 0, workers: 0, logLevel: 'silent', sysInterval: 0, dataDir: dir });
    try {
      await assert.rejects(second.listen(), (err: Error) => {
        assert.match(err.message, /^config\.dataDir: the data directory .* is in use by another broker \(pid \d+/);
        assert.ok(err.message.includes(dir), err.message);
        assert.ok(!err.message.includes('\n'), 'one line');
        return true;
      });
      await assert.rejects(second.publish({ topic: 't', payload: 'x' }), /in use by another broker/);
      await second.close();
      assert.ok(existsSync(join(dir, LOCK_FILE)), 'the refused broker leaves the lock of the first alone');
    } finally {
      await second.close();
      await first.close();
    }
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'the first released it');
    const third = await brokerOn(dir, { workers: 0 });
    await third.close();
  });

  test('a stale lock is taken over: its process is gone, its pid was recycled, or it is this process (a container restarted with the same pid)', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    for (const [pid, start] of [
      [gone, undefined],
      [process.ppid, '1'], // alive, but started at another time than the lock says
      [process.pid, undefined], // this process, which does not hold the lock
    ] as const) {
      const dir = tempDir();
      writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid, host: hostname(), since: 'earlier', start })}\n`);
      const b = await brokerOn(dir, { workers: 0 });
      await b.close();
      assert.ok(!existsSync(join(dir, LOCK_FILE)), `lock of pid ${pid} taken over and released`);
    }
  });

  test(
    'a lock of a live process started when the lock says is respected',
    { skip: !existsSync('/proc/self/stat') && 'no /proc' },
    async () => {
      const dir = tempDir();
      const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.ppid, host: hostname(), since: 'earlier', start })}\n`);
      const b = createBroker({ host: '127.0.0.1', port: 0, workers: 0, logLevel: 'silent', sysInterval: 0, dataDir: dir });
      try {
        await assert.rejects(b.listen(), new RegExp(`in use by another broker \\(pid ${process.ppid} `));
      } finally {
        await b.close();
      }
      assert.ok(existsSync(join(dir, LOCK_FILE)), 'left in place');
    },
  );

  test('a data directory of a newer format is refused, naming the version and the directory', async () => {
    const dir = tempDir();
    const env = open({ path: join(dir, LMDB_DIR), ...LMDB_OPTIONS });
    await env.openDB<string, string>({ name: SUB_DATABASES.meta, encoding: 'string' }).put(FORMAT_KEY, '99');
    await env.close();
    const b = createBroker({ host: '127.0.0.1', port: 0, workers: 0, logLevel: 'silent', sysInterval: 0, dataDir: dir });
    try {
      await assert.rejects(b.listen(), (err: Error) => {
        assert.match(err.message, /format version 99, newer than this broker's 1/);
        assert.ok(err.message.includes(dir), err.message);
        return true;
      });
    } finally {
      await b.close();
    }
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'the refused directory is not left locked');
  });

  test('a data directory that cannot be created fails listen() naming it', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const dataDir = join(file, 'data');
    const b = createBroker({ host: '127.0.0.1', port: 0, workers: 0, logLevel: 'silent', sysInterval: 0, dataDir });
    try {
      await assert.rejects(b.listen(), (err: Error) => {
        assert.match(err.message, /^config\.dataDir: cannot create the data directory /);
        assert.ok(err.message.includes(dataDir), err.message);
        return true;
      });
    } finally {
      await b.close();
    }
  });
});
