/**
 * The durable retained message store (RetainedStore, src/api/retained-store.ts)
 * used when config.dataDir is set: a MemoryRetainedStore is its index, so
 * every read (`match`), the memory bound (maxRetainedMemory, per pool),
 * expiry and `stats` stay in memory and synchronous, and every change is
 * written through to the `retained` sub-database of the data directory's
 * LMDB environment (layout.ts). At open it loads every record into the
 * index. The broker's own `$SYS` figures stay in the index only: they
 * describe this run, and the next run publishes its own. Owned by the router
 * through the broker; runs on the main thread.
 *
 * `set` and `delete` answer with the promise of their LMDB write: resolved
 * once the transaction holding it committed ('os') or was flushed ('sync').
 * lmdb-js puts every asynchronous write of one event-loop turn into one
 * transaction, started on the next turn (its default `eventTurnBatching`),
 * so a batch of PUBLISHes costs one commit, not one per message. The router
 * does not wait for these promises; a rejection is logged.
 *
 * Key: pool and topic as bytes, `[0x01][u16 pool length][pool][topic]`;
 * when that would pass LMDB's key limit (MAX_PLAIN_KEY bytes; a topic may
 * have 65,535), `[0x02][SHA-256 of u16 pool length, pool, topic]`. Binary,
 * so no text encoding rules apply. The value holds pool and topic in full.
 * Value (format 1), big-endian:
 *   u8 1 | u8 flags (bits 0-1 QoS, bit 2 expiresAt, bit 3 properties)
 *   | f64 sequence (the order of the writes: a load restores it, so the
 *     memory bound still evicts the oldest first after a restart)
 *   | f64 expiresAt (ms since the epoch, when flagged)
 *   | u16 pool length | pool | u16 topic length | topic
 *   | u32 properties length | properties as JSON, correlationData in base64 (when flagged)
 *   | payload (the rest)
 * Expiry is an absolute deadline, so time spent stopped counts.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'lmdb';
import type { RetainedStore, RetainedStoreStats } from '../../api/retained-store.js';
import type { AppMessage, MessageProperties, QoS } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import { MemoryRetainedStore, type RetainedRemoval } from '../router/retained-store.js';
import type { DataDir } from './data-dir.js';
import { SUB_DATABASES } from '../../shared/store/layout.js';
import { isSysTopic } from '../../shared/topic/topic.js';

/** What set and delete answer for a `$SYS` topic: kept in the index, nothing to write. */
const SYS_KEPT = Promise.resolve();

/** Longest key written as pool and topic bytes; longer ones are hashed. Below LMDB's 1978-byte limit (4 KiB pages). */
export const MAX_PLAIN_KEY = 1900;

const KEY_PLAIN = 0x01;
const KEY_HASHED = 0x02;
const RECORD_VERSION = 1;
const FLAG_QOS = 0x03;
const FLAG_EXPIRES = 0x04;
const FLAG_PROPERTIES = 0x08;

/** What a load found in the sub-database. */
export interface RetainedLoad {
  loaded: number;
  /** Past their deadline: deleted. */
  expired: number;
  /** Unreadable: skipped, left in place, one log line each. */
  corrupt: number;
}

/** The retained messages of every pool, in memory and in LMDB. */
export class LmdbRetainedStore implements RetainedStore {
  private readonly index: MemoryRetainedStore;
  private readonly db: Database<Buffer, Buffer>;
  /** The message `set` is storing: the index dropping it at once (too large for the bound) means no record. */
  private storing: AppMessage | undefined;
  private storingDropped = false;
  private closed = false;
  /** The sequence number of the next record written. */
  private nextSeq = 1;

  /** Opens the `retained` sub-database of `dir` and loads it into a memory index bounded per pool by `maxMemoryBytes`. */
  constructor(
    private readonly dir: DataDir,
    opts: { maxMemoryBytes: number },
    private readonly log: Logger,
    now: number = Date.now(),
  ) {
    this.db = dir.binaryDB(SUB_DATABASES.retained);
    this.index = new MemoryRetainedStore({
      maxMemoryBytes: opts.maxMemoryBytes,
      onRemoved: (pool, message, why) => this.dropped(pool, message, why),
    });
    this.loadAll(now);
  }

  set(pool: string, message: AppMessage, now: number): Promise<void> {
    this.storing = message;
    this.storingDropped = false;
    try {
      this.index.set(pool, message, now);
    } finally {
      this.storing = undefined;
    }
    if (isSysTopic(message.topic)) return SYS_KEPT;
    const gone = message.payload.length === 0 || (message.expiresAt !== undefined && message.expiresAt <= now) || this.storingDropped;
    const key = retainedKey(pool, message.topic);
    return this.write(() => (gone ? this.db.remove(key) : this.db.put(key, encodeRetained(pool, message, this.nextSeq++))));
  }

  delete(pool: string, topic: string): Promise<void> {
    this.index.delete(pool, topic);
    if (isSysTopic(topic)) return SYS_KEPT;
    const key = retainedKey(pool, topic);
    return this.write(() => this.db.remove(key));
  }

  match(pool: string, filter: string, now: number, visit: (message: AppMessage) => void): void {
    this.index.match(pool, filter, now, visit);
  }

  /** Expired messages leave the index at once; their records are deleted in this turn's transaction. */
  sweepExpired(now: number): number {
    return this.index.sweepExpired(now);
  }

  stats(): RetainedStoreStats {
    return this.index.stats();
  }

  /** No more writes: the broker closes the data directory next, which waits for those made. */
  close(): void {
    this.closed = true;
  }

  /** The index dropped `message` by expiry or eviction: its record goes too. */
  private dropped(pool: string, message: AppMessage, why: RetainedRemoval): void {
    if (message === this.storing) {
      this.storingDropped = true;
      return;
    }
    const key = retainedKey(pool, message.topic);
    this.write(() => this.db.remove(key)).catch((err: unknown) =>
      this.log.error({ err, pool, topic: message.topic, why }, 'retained store: deleting a dropped message failed'),
    );
  }

  /** Queues an LMDB write; its promise per the data directory's durability. Never throws. */
  private write(op: () => Promise<boolean>): Promise<void> {
    if (this.closed) return Promise.reject(new Error('retained store: closed'));
    try {
      return this.dir.durable(op());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Loads every record into the index in the order they were written: expired ones are deleted, unreadable ones skipped. */
  private loadAll(now: number): RetainedLoad {
    const started = Date.now();
    const result: RetainedLoad = { loaded: 0, expired: 0, corrupt: 0 };
    const expiredKeys: Buffer[] = [];
    const records: RetainedRecord[] = [];
    for (const { key, value } of this.db.getRange()) {
      let record: RetainedRecord;
      try {
        record = decodeRetained(key, value);
      } catch (err) {
        result.corrupt++;
        this.log.warn(
          { dataDir: this.dir.path, key: Buffer.from(key.subarray(0, 64)).toString('hex'), reason: (err as Error).message },
          'retained store: skipped an unreadable record',
        );
        continue;
      }
      const { message } = record;
      if (message.expiresAt !== undefined && message.expiresAt <= now) {
        expiredKeys.push(Buffer.from(key));
        result.expired++;
        continue;
      }
      records.push(record);
    }
    records.sort((a, b) => a.seq - b.seq);
    for (const { pool, message, seq } of records) {
      this.index.set(pool, message, now);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      result.loaded++;
    }
    for (const key of expiredKeys) {
      this.write(() => this.db.remove(key)).catch((err: unknown) =>
        this.log.error({ err }, 'retained store: deleting an expired record failed'),
      );
    }
    const { count, bytes } = this.index.stats();
    this.log.info({ ...result, count, bytes, ms: Date.now() - started }, 'retained messages loaded');
    return result;
  }
}

/** A record as read back. */
export interface RetainedRecord {
  pool: string;
  message: AppMessage;
  /** Its place in the order of writes. */
  seq: number;
}

/** The LMDB key of `topic`'s retained message in `pool`. */
export function retainedKey(pool: string, topic: string): Buffer {
  const poolBytes = Buffer.byteLength(pool);
  const topicBytes = Buffer.byteLength(topic);
  const plainLength = 3 + poolBytes + topicBytes;
  if (plainLength <= MAX_PLAIN_KEY) {
    const key = Buffer.allocUnsafe(plainLength);
    key[0] = KEY_PLAIN;
    key.writeUInt16BE(poolBytes, 1);
    key.write(pool, 3);
    key.write(topic, 3 + poolBytes);
    return key;
  }
  const prefix = Buffer.allocUnsafe(2);
  prefix.writeUInt16BE(Math.min(poolBytes, 0xffff), 0);
  const digest = createHash('sha256').update(prefix).update(pool).update(topic).digest();
  return Buffer.concat([Buffer.from([KEY_HASHED]), digest]);
}

/** The record of `message`, retained in `pool` (format in the module comment). */
export function encodeRetained(pool: string, message: AppMessage, seq: number): Buffer {
  const poolBytes = Buffer.byteLength(pool);
  const topicBytes = Buffer.byteLength(message.topic);
  if (poolBytes > 0xffff || topicBytes > 0xffff) throw new RangeError('retained store: pool or topic longer than 65535 bytes');
  const props = message.properties === undefined ? undefined : Buffer.from(JSON.stringify(propertiesToJson(message.properties)));
  let flags = message.qos & FLAG_QOS;
  if (message.expiresAt !== undefined) flags |= FLAG_EXPIRES;
  if (props !== undefined) flags |= FLAG_PROPERTIES;
  const size =
    2 +
    8 +
    (message.expiresAt !== undefined ? 8 : 0) +
    2 +
    poolBytes +
    2 +
    topicBytes +
    (props ? 4 + props.length : 0) +
    message.payload.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = RECORD_VERSION;
  out[at++] = flags;
  at = out.writeDoubleBE(seq, at);
  if (message.expiresAt !== undefined) at = out.writeDoubleBE(message.expiresAt, at);
  at = out.writeUInt16BE(poolBytes, at);
  at += out.write(pool, at);
  at = out.writeUInt16BE(topicBytes, at);
  at += out.write(message.topic, at);
  if (props !== undefined) {
    at = out.writeUInt32BE(props.length, at);
    at += props.copy(out, at);
  }
  message.payload.copy(out, at);
  return out;
}

/** The pool and message of a record stored under `key`; throws on anything it cannot read. The message owns its memory. */
export function decodeRetained(key: Uint8Array, value: Uint8Array): RetainedRecord {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const need = (at: number, n: number): void => {
    if (at + n > buf.length) throw new Error(`record truncated at byte ${at} of ${buf.length}`);
  };
  need(0, 2);
  if (buf[0] !== RECORD_VERSION) throw new Error(`unknown record version ${buf[0]}`);
  const flags = buf[1]!;
  if ((flags & ~(FLAG_QOS | FLAG_EXPIRES | FLAG_PROPERTIES)) !== 0 || (flags & FLAG_QOS) === 3)
    throw new Error(`bad flags 0x${flags.toString(16)}`);
  need(2, 8);
  const seq = buf.readDoubleBE(2);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error('bad sequence number');
  let at = 10;
  let expiresAt: number | undefined;
  if (flags & FLAG_EXPIRES) {
    need(at, 8);
    expiresAt = buf.readDoubleBE(at);
    at += 8;
    if (!Number.isFinite(expiresAt)) throw new Error('bad expiry');
  }
  /** A string behind its 2-byte length, at `at`, which it moves past. */
  const readString = (): string => {
    need(at, 2);
    const length = buf.readUInt16BE(at);
    at += 2;
    need(at, length);
    const text = buf.toString('utf8', at, at + length);
    at += length;
    return text;
  };
  const pool = readString();
  const topic = readString();
  let properties: MessageProperties | undefined;
  if (flags & FLAG_PROPERTIES) {
    need(at, 4);
    const length = buf.readUInt32BE(at);
    at += 4;
    need(at, length);
    properties = propertiesFromJson(JSON.parse(buf.toString('utf8', at, at + length)));
    at += length;
  }
  if (topic === '' || !Buffer.from(key).equals(retainedKey(pool, topic))) throw new Error('key does not match the record');
  const payload = Buffer.from(buf.subarray(at));
  const message: AppMessage = { topic, payload, qos: (flags & FLAG_QOS) as QoS, retain: true };
  if (properties !== undefined) message.properties = properties;
  if (expiresAt !== undefined) message.expiresAt = expiresAt;
  return { pool, message, seq };
}

function propertiesToJson(properties: MessageProperties): Record<string, unknown> {
  const { correlationData, ...rest } = properties;
  return correlationData === undefined ? rest : { ...rest, correlationData: correlationData.toString('base64') };
}

function propertiesFromJson(json: unknown): MessageProperties {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('properties are not an object');
  const { correlationData, ...rest } = json as Record<string, unknown>;
  const properties = rest as MessageProperties;
  if (correlationData !== undefined) {
    if (typeof correlationData !== 'string') throw new Error('correlationData is not base64 text');
    properties.correlationData = Buffer.from(correlationData, 'base64');
  }
  return properties;
}
