/**
 * Unit: LmdbSessionStore on a temporary data directory. A full
 * SessionRecord (Buffers, 5.0 properties, subscription identifiers, a will
 * waiting for its delay, inflight and queued messages, inbound QoS 2 ids)
 * comes back equal from a fresh store; writes are staged until the commit;
 * each host takes back only the sessions the placement puts on it, client
 * ids too long for a plain key included; sessions expired meanwhile are
 * deleted (one with a will comes back, emptied, for its will); corrupt,
 * foreign and newer-format records are skipped with one log line each.
 * Messages are kept apart, one entry each: a commit writes the messages that
 * came, changed or went, not the whole queue, the order survives a reload,
 * and a record of format 1 (messages inline) still loads. Runs in the test
 * process.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/shared/log.js';
import { hostFor } from '../../src/shared/placement.js';
import { LmdbSessionStore, openSessionsDb, sessionKey, SESSION_RECORD_VERSION } from '../../workers/session/lmdb-session-store.js';
import type { SessionRecord } from '../../workers/session/session-store.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-lmdb-sessions-'));
  dirs.push(dir);
  return dir;
}

interface LogLine {
  level: string;
  msg: string;
}

/** A logger that records its lines. */
function recordingLog(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, msg: msg ?? String(obj) });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger & { lines: LogLine[] };
}

const stores: LmdbSessionStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
});

function storeOf(dir: string, index = 0, hostCount = 1, log = recordingLog(), durability: 'os' | 'sync' = 'os'): LmdbSessionStore {
  const store = new LmdbSessionStore({ dataDir: dir, durability, index, hostCount, log });
  stores.push(store);
  return store;
}

function loaded(store: LmdbSessionStore): readonly SessionRecord[] {
  const records = store.load();
  assert.ok(Array.isArray(records), 'load() answers at once');
  return records as readonly SessionRecord[];
}

/** Now, once for the file: records built twice are equal. */
const NOW = Date.now();

function fullRecord(clientId = 'ünï-cödé/1', pool = 'vhost', now = NOW): SessionRecord {
  const message = (topic: string, payload: string) => ({
    topic,
    payload: Buffer.from(payload),
    qos: 1 as const,
    retain: false,
  });
  return {
    pool,
    clientId,
    protocolVersion: 5,
    sessionExpiry: 3600,
    expiresAt: now + 3_600_000,
    username: 'alice',
    userContext: { tenant: 'acme', roles: ['r', 'w'], nested: { n: 1.5, flag: true, none: null } },
    limits: {
      maxInflightMessages: 20,
      maxOnlineMessages: 1000,
      maxOfflineMessages: 500,
      maxOnlineBytes: 32 * 1024 * 1024,
      maxOfflineBytes: 0,
      maxIncomingPacketSize: 20 * 1024 * 1024,
      maxMessageRate: 1000.5,
      receiveMaximum: 65535,
      topicAliasMaximum: 10,
      upgradeQos: true,
      retryInterval: 20,
    },
    subscriptions: [
      { filter: 'a/+/c', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 268435455 },
      { filter: '$share/g/x/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 },
    ],
    will: {
      message: {
        topic: 'wills/alice',
        payload: Buffer.from([0, 1, 2, 255]),
        qos: 2,
        retain: true,
        properties: {
          payloadFormatIndicator: true,
          contentType: 'application/octet-stream',
          responseTopic: 'replies/alice',
          correlationData: Buffer.from('corr'),
          userProperties: { k: 'v', multi: ['1', '2'] },
        },
        expiresAt: now + 60_000,
      },
      delaySeconds: 30,
      publishAt: now + 30_000,
    },
    inflight: [
      { message: message('a/b/c', 'sent'), qos: 1, retain: false, subscriptionIds: [268435455], packetId: 7, state: 'publish' },
      {
        message: { ...message('a/b/c', 'released'), qos: 2, properties: { correlationData: Buffer.from([9, 9]) } },
        qos: 2,
        retain: true,
        subscriptionIds: [1, 2],
        packetId: 65535,
        state: 'pubrel',
      },
      {
        message: message('x/y', 'shared'),
        qos: 1,
        retain: false,
        subscriptionIds: [],
        packetId: 8,
        state: 'publish',
        share: '$share/g/x/#',
      },
    ],
    queued: [
      {
        message: { ...message('a/q/c', ''), expiresAt: now + 5_000 },
        qos: 1,
        retain: false,
        subscriptionIds: [268435455],
        packetId: 0,
        state: 'publish',
      },
      { message: message('a/q/c', 'x'.repeat(70_000)), qos: 2, retain: false, subscriptionIds: [], packetId: 0, state: 'publish' },
    ],
    awaitingRelease: [1, 2, 65535],
  };
}

function assertBuffers(record: SessionRecord): void {
  for (const o of [...record.inflight, ...record.queued]) assert.ok(Buffer.isBuffer(o.message.payload), 'payloads come back as Buffers');
  assert.ok(Buffer.isBuffer(record.will?.message.payload));
  assert.ok(Buffer.isBuffer(record.will?.message.properties?.correlationData));
  assert.ok(Buffer.isBuffer(record.inflight[1]?.message.properties?.correlationData));
}

describe('LmdbSessionStore', () => {
  test('a full SessionRecord comes back equal from a fresh store on the same directory', async () => {
    const dir = dataDir();
    const record = fullRecord();
    const first = storeOf(dir);
    assert.deepEqual(loaded(first), []);
    first.save(record);
    await first.commit();
    await first.close();

    const [back, ...rest] = loaded(storeOf(dir));
    assert.equal(rest.length, 0);
    assert.deepStrictEqual(back, record);
    assertBuffers(back!);
  });

  test('saves and removals are staged until the commit; a later save replaces the record; a removal deletes it', async () => {
    const dir = dataDir();
    const store = storeOf(dir);
    store.save(fullRecord('a', ''));
    store.save(fullRecord('b', ''));
    assert.deepEqual(loaded(storeOf(dir)), [], 'nothing is written before the commit');
    await store.commit();
    assert.deepEqual(
      loaded(storeOf(dir))
        .map((r) => r.clientId)
        .sort(),
      ['a', 'b'],
    );

    store.save({ ...fullRecord('a', ''), sessionExpiry: 7 });
    store.remove('', 'b');
    store.remove('', 'never-stored');
    await store.commit();
    const records = loaded(storeOf(dir));
    assert.deepEqual(
      records.map((r) => [r.clientId, r.sessionExpiry]),
      [['a', 7]],
    );
    assert.equal(store.commit(), undefined, 'a commit with nothing staged writes nothing');
  });

  test("with durability 'sync' a commit resolves once flushed, and the record is there", async () => {
    const dir = dataDir();
    const store = storeOf(dir, 0, 1, recordingLog(), 'sync');
    store.save(fullRecord('synced', ''));
    await store.commit();
    assert.deepEqual(
      loaded(storeOf(dir)).map((r) => r.clientId),
      ['synced'],
    );
  });

  test('each host takes back only the sessions placed on it (default pool and client id), whatever its pool and the key length', async () => {
    const dir = dataDir();
    const writer = storeOf(dir);
    const ids = Array.from({ length: 40 }, (_, i) => `client-${i}`);
    const long = 'L'.repeat(600) + 'ü'.repeat(100);
    ids.push(long);
    for (const id of ids) writer.save(fullRecord(id, id.length % 3 === 0 ? 'pool-x' : ''));
    await writer.commit();

    for (const hosts of [1, 2, 3]) {
      const seen: string[] = [];
      for (let index = 0; index < hosts; index++) {
        for (const r of loaded(storeOf(dir, index, hosts))) {
          assert.equal(hostFor('', r.clientId, hosts), index, `${r.clientId} is placed on host ${index} of ${hosts}`);
          seen.push(r.clientId);
        }
      }
      assert.deepEqual(seen.sort(), [...ids].sort(), `every session is taken by exactly one of ${hosts} hosts`);
    }
    const [back] = loaded(storeOf(dir, hostFor('', long, 2), 2)).filter((r) => r.clientId === long);
    assert.deepStrictEqual(
      back,
      fullRecord(long, long.length % 3 === 0 ? 'pool-x' : ''),
      'a client id over the plain key length round-trips',
    );
    assert.equal(sessionKey('', long).length, 34, 'under a digest key');
  });

  test('a session whose deadline passed is deleted at load; one with a will comes back without subscriptions and messages', async () => {
    const dir = dataDir();
    const store = storeOf(dir);
    const { will: _will, ...noWill } = fullRecord('expired', '');
    store.save({ ...noWill, expiresAt: Date.now() - 1 });
    store.save({ ...fullRecord('expired-will', ''), expiresAt: Date.now() - 1 });
    store.save({ ...fullRecord('forever', ''), expiresAt: null });
    await store.commit();

    const records = loaded(storeOf(dir));
    assert.deepEqual(records.map((r) => r.clientId).sort(), ['expired-will', 'forever']);
    const withWill = records.find((r) => r.clientId === 'expired-will')!;
    assert.deepEqual([withWill.subscriptions, withWill.inflight, withWill.queued], [[], [], []]);
    assert.ok(withWill.will);

    // The deletion is queued by load(): it is committed shortly after.
    const { root, db } = openSessionsDb(dir);
    try {
      const deadline = Date.now() + 2_000;
      for (;;) {
        db.resetReadTxn();
        if (!db.doesExist(sessionKey('', 'expired'))) break;
        assert.ok(Date.now() < deadline, 'the expired session is deleted');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(db.doesExist(sessionKey('', 'forever')), true);
    } finally {
      await root.close();
    }
  });

  test('corrupt, foreign and newer-format records are skipped with one log line each; the others load', async () => {
    const dir = dataDir();
    const writer = storeOf(dir);
    writer.save(fullRecord('good', ''));
    await writer.commit();
    const { root } = openSessionsDb(dir);
    try {
      const raw = root.openDB<Buffer, Buffer>({ name: 'sessions', keyEncoding: 'binary', encoding: 'binary' });
      const packed = root.openDB<unknown, Buffer>({ name: 'sessions', keyEncoding: 'binary' });
      await raw.put(sessionKey('', 'garbage'), Buffer.from([0xc1, 0xff, 0x00]));
      await packed.put(sessionKey('', 'not-a-record'), { hello: 'world' });
      await packed.put(sessionKey('', 'newer'), { ...fullRecord('newer', ''), v: SESSION_RECORD_VERSION + 1 });
      await packed.put(sessionKey('', 'other-ids'), { ...fullRecord('someone-else', ''), v: SESSION_RECORD_VERSION });
    } finally {
      await root.close();
    }

    const log = recordingLog();
    const records = loaded(storeOf(dir, 0, 1, log));
    assert.deepEqual(
      records.map((r) => r.clientId),
      ['good'],
    );
    const warnings = log.lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 4, `one line per skipped record: ${JSON.stringify(log.lines)}`);
    assert.equal(warnings.filter((l) => /newer record format/.test(l.msg)).length, 1);
  });

  test('a data directory that cannot be opened fails load() with a rejection, not a throw', async () => {
    const dir = dataDir();
    const blocker = join(dir, 'file');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(blocker, 'not a directory');
    const store = storeOf(join(blocker, 'below'));
    const answer = store.load();
    assert.ok(answer instanceof Promise);
    await assert.rejects(answer);
  });

  describe('messages held apart from the record', () => {
    function queuedRecord(clientId: string, count: number): SessionRecord {
      const record: SessionRecord = { ...fullRecord(clientId, ''), inflight: [], queued: [] };
      for (let i = 0; i < count; i++) {
        const message = { topic: 'q', payload: Buffer.from(`m${i}`), qos: 1 as const, retain: false };
        record.queued.push({ message, qos: 1, retain: false, subscriptionIds: [], packetId: 0, state: 'publish' });
      }
      return record;
    }

    /** The keys of the messages sub-database, hex. */
    async function messageKeys(dir: string): Promise<string[]> {
      const { root, messages } = openSessionsDb(dir);
      try {
        messages.resetReadTxn();
        return Array.from(messages.getKeys(), (key) => Buffer.from(key as Uint8Array).toString('hex'));
      } finally {
        await root.close();
      }
    }

    test('a commit writes the messages that came, changed or went; the others keep their entries', async () => {
      const dir = dataDir();
      const store = storeOf(dir);
      const record = queuedRecord('grows', 100);
      store.save(record);
      await store.commit();
      const before = await messageKeys(dir);
      assert.equal(before.length, 100, 'one entry per queued message');

      // One more message arrives, the first is sent (inflight, a packet id), the second is gone (acknowledged).
      const [first, , ...rest] = record.queued;
      const arrived = { ...rest[0]!, message: { ...rest[0]!.message, payload: Buffer.from('new') } };
      store.save({ ...record, inflight: [{ ...first!, packetId: 1 }], queued: [...rest, arrived] });
      await store.commit();
      const after = await messageKeys(dir);
      assert.equal(after.length, 100);
      assert.deepEqual(
        after.slice(0, 99),
        before.filter((key) => key !== before[1]),
        'the entries of unchanged messages stay, the acknowledged one is gone',
      );
      assert.ok(!before.includes(after[99]!), 'the new message has a new entry, after the others');

      const [back] = loaded(storeOf(dir));
      assert.equal(back?.inflight.length, 1);
      assert.equal(back?.inflight[0]?.packetId, 1);
      assert.deepEqual(
        back?.queued.map((o) => o.message.payload.toString()),
        [...rest.map((o) => o.message.payload.toString()), 'new'],
        'the order survives a reload',
      );
    });

    test('saveMessages writes the messages alone; the rest of the record stays as committed', async () => {
      const dir = dataDir();
      const store = storeOf(dir);
      const record = queuedRecord('messages-only', 2);
      store.save(record);
      await store.commit();
      store.saveMessages('', 'messages-only', { inflight: [], queued: record.queued.slice(1) });
      await store.commit();
      const [back] = loaded(storeOf(dir));
      assert.equal(back?.username, record.username);
      assert.deepEqual(back?.subscriptions, record.subscriptions);
      assert.deepEqual(
        back?.queued.map((o) => o.message.payload.toString()),
        ['m1'],
      );
    });

    test('removing a session removes its messages; a record of format 1, messages inline, still loads', async () => {
      const dir = dataDir();
      const store = storeOf(dir);
      store.save(queuedRecord('gone', 3));
      await store.commit();
      store.remove('', 'gone');
      await store.commit();
      assert.deepEqual(await messageKeys(dir), []);

      const { root, db } = openSessionsDb(dir);
      try {
        await db.put(sessionKey('', 'old'), { ...queuedRecord('old', 2), v: 1 });
      } finally {
        await root.close();
      }
      const [old] = loaded(storeOf(dir));
      assert.deepEqual(
        old?.queued.map((o) => o.message.payload.toString()),
        ['m0', 'm1'],
      );
    });
  });
});
