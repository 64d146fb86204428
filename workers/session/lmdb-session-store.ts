/**
 * The session store of one actor host on LMDB (lmdb-js), in the data
 * directory's environment (`<dataDir>/lmdb`, which every host of a broker
 * and the main thread open: lmdb-js shares one environment per process
 * across threads) and its sub-database `sessions`. It owns the layout of that
 * sub-database: one record per session, keyed by pool and client id
 * (`sessionKey`), valued with the SessionRecord and its format version `v`
 * (msgpack, lmdb-js's default encoding). `load()` takes the records whose
 * client id the placement puts on this host (so a broker restarted with
 * another worker count finds each session on its new host), drops those
 * whose session expired meanwhile, and skips (with one log line each)
 * records it cannot read or that a newer format wrote. `save` and `remove`
 * stage; `commit()` queues the staged writes in one event-loop turn, which
 * lmdb-js writes as one transaction on its write thread (no JavaScript runs
 * inside it, so a worker that dies mid-commit never holds the write lock),
 * and resolves once committed (`durability: 'os'`) or flushed to disk
 * ('sync'). Runs wherever its actor host runs.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import type { Durability } from '../../src/api/config.js';
import type { Logger } from '../../src/shared/log.js';
import { hostFor } from '../../src/shared/placement.js';
import { DEFAULT_POOL } from '../../src/shared/topic/topic.js';
import type { Outgoing } from './outbound-flow.js';
import type { SessionRecord, SessionStore } from './session-store.js';
import { LMDB_DIR, LMDB_OPTIONS, SUB_DATABASES } from '../../src/shared/store/layout.js';
import { handleTurnCommit, lmdbOpen, withCommitError } from '../../src/shared/store/lmdb.js';
import { withBuffers } from '../../src/shared/message/owned.js';
import { SessionMessages } from './lmdb-session-messages.js';

/** The name of the sub-database of the data directory's environment that holds the sessions. */
export const SESSIONS_DB = SUB_DATABASES.sessions;

/**
 * The format of the records this code writes; a record of a higher version
 * is skipped, never rewritten. Version 1 held the messages in the record;
 * version 2 holds them apart (lmdb-session-messages.ts), and reads both.
 */
export const SESSION_RECORD_VERSION = 2;

/**
 * Longest key stored as pool and client id (LMDB's smallest build limit is
 * 511 bytes, lmdb-js's 1978); a longer one is stored under a digest, the full
 * ids staying in the value.
 */
const MAX_PLAIN_KEY_BYTES = 511;

/** First two bytes of a digest key: a plain key starting so would be over MAX_PLAIN_KEY_BYTES. */
const DIGEST_MARK = 0xffff;

/** A record as stored: the SessionRecord and its format version. */
type StoredRecord = SessionRecord & { v: number };

/** The environment of a data directory, as every thread of the broker opens it. */
export function dataEnvPath(dataDir: string): string {
  return join(dataDir, LMDB_DIR);
}

interface SessionsDbs {
  root: RootDatabase;
  db: Database<StoredRecord, Buffer>;
  /** The sessions' queued and inflight messages (layout.ts `messages`). */
  messages: Database<Buffer, Buffer>;
  /** The QoS 2 delivery marks (layout.ts `deliveries`). */
  marks: Database<Buffer, Buffer>;
}

/** Opens the data directory's environment, its sessions sub-database and its delivery marks (created when missing). */
export function openSessionsDb(dataDir: string): SessionsDbs {
  const root = lmdbOpen()({ path: dataEnvPath(dataDir), ...LMDB_OPTIONS });
  try {
    const db = root.openDB<StoredRecord, Buffer>({ name: SESSIONS_DB, keyEncoding: 'binary' });
    const messages = root.openDB<Buffer, Buffer>({ name: SUB_DATABASES.messages, keyEncoding: 'binary', encoding: 'binary' });
    const marks = root.openDB<Buffer, Buffer>({ name: SUB_DATABASES.deliveries, keyEncoding: 'binary', encoding: 'binary' });
    return { root, db, messages, marks };
  } catch (err) {
    root.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The key of a session: the pool's byte length (2 bytes, big-endian), the
 * pool and the client id (UTF-8); over MAX_PLAIN_KEY_BYTES, DIGEST_MARK and
 * the SHA-256 of that plain key.
 */
export function sessionKey(pool: string, clientId: string): Buffer {
  const poolBytes = Buffer.byteLength(pool);
  const length = 2 + poolBytes + Buffer.byteLength(clientId);
  const key = Buffer.allocUnsafe(length);
  key.writeUInt16BE(poolBytes, 0);
  key.write(pool, 2);
  key.write(clientId, 2 + poolBytes);
  if (length <= MAX_PLAIN_KEY_BYTES) return key;
  const digest = Buffer.allocUnsafe(34);
  digest.writeUInt16BE(DIGEST_MARK, 0);
  createHash('sha256').update(key).digest().copy(digest, 2);
  return digest;
}

/** The pool and client id of a plain key; undefined for a digest key (or one that is neither). */
export function idsOfKey(key: Uint8Array): { pool: string; clientId: string } | undefined {
  const bytes = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (bytes.length < 2 || bytes.length > MAX_PLAIN_KEY_BYTES) return undefined;
  const poolBytes = bytes.readUInt16BE(0);
  if (2 + poolBytes > bytes.length) return undefined;
  return { pool: bytes.toString('utf8', 2, 2 + poolBytes), clientId: bytes.toString('utf8', 2 + poolBytes) };
}

export interface LmdbSessionStoreOptions {
  /** The broker's data directory (`config.dataDir`). */
  dataDir: string;
  /** When a commit resolves: committed ('os') or flushed to disk ('sync'). */
  durability: Durability;
  /** This host's index, and how many hosts the broker has: the sessions load() takes are those placed here. */
  index: number;
  hostCount: number;
  log: Logger;
}

interface Staged {
  pool: string;
  clientId: string;
  /** The record to write, null to remove the session's, or undefined when only its messages changed. */
  record: SessionRecord | null | undefined;
  /** The messages to write when only they changed. */
  messages?: Pick<SessionRecord, 'inflight' | 'queued'>;
}

export class LmdbSessionStore implements SessionStore {
  private dbs: SessionsDbs | undefined;
  private readonly staged = new Map<string, Staged>();
  /** Staged delivery marks (their keys, hex), and publish ids whose marks go. */
  private readonly stagedMarks = new Map<string, Buffer>();
  private readonly stagedForgets: string[] = [];
  private readonly messages = new SessionMessages();

  constructor(private readonly options: LmdbSessionStoreOptions) {}

  /** The sub-databases, opened on first use (an error surfaces from load() or commit(), not from the constructor). */
  private databases(): SessionsDbs {
    this.dbs ??= openSessionsDb(this.options.dataDir);
    return this.dbs;
  }

  /**
   * The records of the sessions placed on this host (`hostFor` of the
   * default pool and the client id, as the main thread places a CONNECT).
   * A session whose deadline passed while the broker was down is deleted,
   * unless it holds a will: that one comes back without its subscriptions
   * and messages, so that the host publishes the will and ends it.
   */
  load(): readonly SessionRecord[] | Promise<readonly SessionRecord[]> {
    try {
      return this.scan(this.databases());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The records placed on this host, expired ones dropped (or, with a will, handed over emptied so the host publishes it). */
  private scan(dbs: SessionsDbs): SessionRecord[] {
    const { db } = dbs;
    const { index, hostCount, log } = this.options;
    const now = Date.now();
    const records: SessionRecord[] = [];
    db.resetReadTxn();
    for (const stored of db.getKeys()) {
      const key = Buffer.from(stored as Uint8Array);
      const ids = idsOfKey(key);
      if (ids && hostFor(DEFAULT_POOL, ids.clientId, hostCount) !== index) continue;
      const record = this.read(db, key, ids);
      if (!record || (!ids && hostFor(DEFAULT_POOL, record.clientId, hostCount) !== index)) continue;
      if (record.expiresAt !== null && record.expiresAt <= now) {
        if (record.will) {
          records.push({ ...record, subscriptions: [], inflight: [], queued: [] });
          continue;
        }
        log.debug({ clientId: record.clientId, pool: record.pool }, 'a stored session expired while the broker was down; deleting it');
        Promise.all([db.remove(key), ...this.messages.removeAll(dbs.messages, key)]).catch((err: unknown) =>
          log.error({ err }, 'deleting an expired stored session failed'),
        );
        continue;
      }
      const apart = this.messages.read(dbs.messages, key, (entry) =>
        log.warn({ key: entry.toString('hex') }, 'skipping a stored message that is not a queued message'),
      );
      record.inflight.push(...apart.inflight);
      record.queued.push(...apart.queued);
      records.push(record);
    }
    return records;
  }

  /** The record under `key`, or undefined (logged) when it cannot be read or a newer format wrote it. */
  private read(
    db: Database<StoredRecord, Buffer>,
    key: Buffer,
    ids: { pool: string; clientId: string } | undefined,
  ): SessionRecord | undefined {
    const { log } = this.options;
    let stored: unknown;
    try {
      stored = db.get(key);
    } catch (err) {
      log.warn({ err, key: key.toString('hex') }, 'skipping a stored session that cannot be decoded');
      return undefined;
    }
    const version = typeof stored === 'object' && stored !== null ? (stored as { v?: unknown }).v : undefined;
    if (typeof version === 'number' && version > SESSION_RECORD_VERSION) {
      log.warn({ key: key.toString('hex'), version }, 'skipping a stored session of a newer record format');
      return undefined;
    }
    if ((version !== 1 && version !== SESSION_RECORD_VERSION) || !wellFormed(stored as StoredRecord, ids)) {
      log.warn({ key: key.toString('hex') }, 'skipping a stored session that is not a session record');
      return undefined;
    }
    const { v: _v, ...record } = stored as StoredRecord;
    try {
      return recordWithBuffers(record);
    } catch (err) {
      log.warn({ err, key: key.toString('hex') }, 'skipping a stored session whose messages are not well formed');
      return undefined;
    }
  }

  save(record: SessionRecord): void {
    this.staged.set(`${record.pool}\0${record.clientId}`, { pool: record.pool, clientId: record.clientId, record });
  }

  saveMessages(pool: string, clientId: string, messages: Pick<SessionRecord, 'inflight' | 'queued'>): void {
    const id = `${pool}\0${clientId}`;
    const staged = this.staged.get(id);
    if (staged === undefined) this.staged.set(id, { pool, clientId, record: undefined, messages });
    else if (staged.record) staged.record = { ...staged.record, ...messages };
    else if (staged.record === undefined) staged.messages = messages;
  }

  remove(pool: string, clientId: string): void {
    this.staged.set(`${pool}\0${clientId}`, { pool, clientId, record: null });
  }

  markDelivered(qos2Id: string, pool: string, clientId: string): void {
    const key = markKey(qos2Id, pool, clientId);
    this.stagedMarks.set(key.toString('hex'), key);
  }

  /** Staged, or committed (a read of the marks; called only for a publish routed again after a restart). */
  delivered(qos2Id: string, pool: string, clientId: string): boolean {
    const key = markKey(qos2Id, pool, clientId);
    if (this.stagedMarks.has(key.toString('hex'))) return true;
    try {
      return this.databases().marks.doesExist(key);
    } catch (err) {
      this.options.log.error({ err }, 'reading a QoS 2 delivery mark failed');
      return false;
    }
  }

  forgetDelivered(qos2Id: string): void {
    this.stagedForgets.push(qos2Id);
  }

  /**
   * Queues every staged write in this turn (lmdb-js commits the writes of
   * one turn as one transaction) and resolves once they are committed, or
   * flushed with `durability: 'sync'`. A record that cannot be encoded is
   * logged and left as stored before.
   */
  commit(): Promise<void> | undefined {
    if (this.staged.size === 0 && this.stagedMarks.size === 0 && this.stagedForgets.length === 0) return undefined;
    let dbs: SessionsDbs;
    try {
      dbs = this.databases();
    } catch (err) {
      this.staged.clear();
      this.stagedMarks.clear();
      this.stagedForgets.length = 0;
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const { db } = dbs;
    const writes: Promise<unknown>[] = this.writeMarks(dbs.marks);
    for (const { pool, clientId, record, messages } of this.staged.values()) {
      try {
        const key = sessionKey(pool, clientId);
        if (record === null) writes.push(db.remove(key), ...this.messages.removeAll(dbs.messages, key));
        else if (record === undefined) writes.push(...this.messages.write(dbs.messages, key, messages!.inflight, messages!.queued));
        else {
          writes.push(db.put(key, { ...record, inflight: [], queued: [], v: SESSION_RECORD_VERSION }));
          writes.push(...this.messages.write(dbs.messages, key, record.inflight, record.queued));
        }
      } catch (err) {
        this.options.log.error({ err, clientId, pool }, 'a session record could not be written');
      }
    }
    this.staged.clear();
    handleTurnCommit(dbs.root);
    // Every write's promise is awaited, so a failed commit rejects this one (never an unhandled rejection).
    const committed = withCommitError(Promise.all(writes));
    return (this.options.durability === 'sync' ? committed.then(() => db.flushed) : committed).then(() => undefined);
  }

  /** Queues the staged marks, and the removal of every mark of the publishes forgotten. */
  private writeMarks(marks: Database<Buffer, Buffer>): Promise<unknown>[] {
    const writes: Promise<unknown>[] = [];
    for (const key of this.stagedMarks.values()) writes.push(marks.put(key, EMPTY));
    this.stagedMarks.clear();
    for (const qos2Id of this.stagedForgets) {
      const start = Buffer.from(qos2Id, 'latin1');
      const end = Buffer.from(start);
      end[end.length - 1]!++;
      for (const key of marks.getKeys({ start, end })) writes.push(marks.remove(key as Buffer));
    }
    this.stagedForgets.length = 0;
    return writes;
  }

  /** Waits for the writes queued so far and closes this store's handle on the environment (the sub-database stays open for the other threads). */
  async close(): Promise<void> {
    const dbs = this.dbs;
    this.dbs = undefined;
    if (!dbs) return;
    await dbs.root.close();
  }
}

const EMPTY = Buffer.alloc(0);

/** The key of a delivery mark: the publish id, then the session's key. */
function markKey(qos2Id: string, pool: string, clientId: string): Buffer {
  return Buffer.concat([Buffer.from(qos2Id, 'latin1'), sessionKey(pool, clientId)]);
}

/** Whether `stored` has the shape of a session record (and, under a plain key, its ids). */
function wellFormed(stored: StoredRecord, ids: { pool: string; clientId: string } | undefined): boolean {
  if (typeof stored.pool !== 'string' || typeof stored.clientId !== 'string') return false;
  if (ids && (ids.pool !== stored.pool || ids.clientId !== stored.clientId)) return false;
  if (stored.expiresAt !== null && typeof stored.expiresAt !== 'number') return false;
  return (
    typeof stored.protocolVersion === 'number' &&
    typeof stored.sessionExpiry === 'number' &&
    typeof stored.limits === 'object' &&
    stored.limits !== null &&
    Array.isArray(stored.subscriptions) &&
    Array.isArray(stored.inflight) &&
    Array.isArray(stored.queued) &&
    Array.isArray(stored.awaitingRelease)
  );
}

/** msgpack gives bytes back as Uint8Array: the messages' payloads and correlation data become Buffers again (no copy). */
function recordWithBuffers(record: SessionRecord): SessionRecord {
  const fix = (o: Outgoing): void => {
    o.message = withBuffers(o.message);
  };
  record.inflight.forEach(fix);
  record.queued.forEach(fix);
  if (record.will) record.will.message = withBuffers(record.will.message);
  return record;
}
