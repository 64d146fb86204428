/**
 * The queued and inflight messages of the stored sessions of one actor
 * host, one entry per message in the data directory's `messages`
 * sub-database, so that a turn writes the messages that came, changed
 * (sent, packet id, PUBREL state) or went, never a session's whole queue.
 * Key: the session's key (u16 length, then sessionKey) and an 8-byte
 * sequence that grows with each message this host writes (a restart
 * starts above every earlier one, from the clock), so a session's entries
 * read back in arrival order. Value (binary): u8 flags (bits 0-1 QoS, 2
 * retain, 3 inflight, 4 state 'pubrel', 5 shared) | u32 packet id | u32
 * count and u32 subscription identifiers | the shared subscription (when
 * flagged) | the message in the frames' form (writeAppMessage). Which entry holds which message is kept in
 * memory per session, by the message object (the session keeps each
 * message it holds as its own object). Runs wherever its actor host runs.
 */
import type { Database } from 'lmdb';
import type { AppMessage, QoS } from '../../src/shared/message/app-message.js';
import { ownedCopy } from '../../src/shared/message/owned.js';
import { BatchReader } from '../../src/shared/channel/batch-reader.js';
import { BatchWriter } from '../../src/shared/channel/batch-writer.js';
import { readAppMessage, writeAppMessage } from '../../src/shared/message/message-codec.js';
import type { Outgoing } from './outbound-flow.js';

const RETAIN = 4,
  INFLIGHT = 8,
  PUBREL = 16,
  SHARED = 32;

/** One message entry's bytes. */
export function encodeStoredMessage(o: Outgoing, inflight: boolean): Buffer {
  const w = new BatchWriter(64 + o.message.payload.length + o.message.topic.length * 3);
  w.u8(
    o.qos |
      (o.retain ? RETAIN : 0) |
      (inflight ? INFLIGHT : 0) |
      (o.state === 'pubrel' ? PUBREL : 0) |
      (o.share !== undefined ? SHARED : 0),
  );
  w.u32(o.packetId);
  w.u32(o.subscriptionIds.length);
  for (const id of o.subscriptionIds) w.u32(id);
  if (o.share !== undefined) w.str(o.share);
  writeAppMessage(w, o.message);
  const { buffer, length } = w.take();
  return Buffer.from(buffer, 0, length);
}

/** A message entry read back (its bytes copied out of `bytes`), and whether it is inflight; throws on bytes that are not one. */
export function decodeStoredMessage(bytes: Buffer): { outgoing: Outgoing; inflight: boolean } {
  const r = new BatchReader(bytes);
  const flags = r.u8();
  const packetId = r.u32();
  const subscriptionIds: number[] = new Array(r.u32());
  for (let i = 0; i < subscriptionIds.length; i++) subscriptionIds[i] = r.u32();
  const share = flags & SHARED ? r.str() : undefined;
  const message = ownedCopy(readAppMessage(r));
  if (!r.done) throw new Error('trailing bytes after a stored message');
  const outgoing: Outgoing = {
    message,
    qos: (flags & 3) as QoS,
    retain: (flags & RETAIN) !== 0,
    subscriptionIds,
    packetId,
    state: flags & PUBREL ? 'pubrel' : 'publish',
  };
  if (share !== undefined) outgoing.share = share;
  return { outgoing, inflight: (flags & INFLIGHT) !== 0 };
}

/** What was last written for one message of a session. */
interface Written {
  key: Buffer;
  packetId: number;
  state: Outgoing['state'];
  inflight: boolean;
}

/** The prefix of every message key of the session `sessionKey`. */
function prefixOf(sessionKey: Buffer): Buffer {
  const prefix = Buffer.allocUnsafe(2 + sessionKey.length);
  prefix.writeUInt16BE(sessionKey.length, 0);
  sessionKey.copy(prefix, 2);
  return prefix;
}

/** The first key after every key that starts with `prefix`. */
function endOf(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.alloc(9, 0xff)]);
}

export class SessionMessages {
  /** Per session (its key as hex), what was last written for each message it holds. */
  private readonly written = new Map<string, Map<AppMessage, Written>>();
  /** The next entry's sequence: above every sequence an earlier run of this host could have written (microseconds of the clock). */
  private next = Date.now() * 1000;

  /**
   * Queues the writes that bring the session's entries to `inflight` and
   * `queued`: a put for each message new or changed since the last write,
   * a removal for each message it no longer holds.
   */
  write(db: Database<Buffer, Buffer>, sessionKey: Buffer, inflight: readonly Outgoing[], queued: readonly Outgoing[]): Promise<unknown>[] {
    const id = sessionKey.toString('hex');
    const before = this.written.get(id) ?? new Map<AppMessage, Written>();
    const after = new Map<AppMessage, Written>();
    const writes: Promise<unknown>[] = [];
    let prefix: Buffer | undefined;
    const put = (o: Outgoing, isInflight: boolean): void => {
      const earlier = before.get(o.message);
      if (earlier !== undefined && earlier.packetId === o.packetId && earlier.state === o.state && earlier.inflight === isInflight) {
        after.set(o.message, earlier);
        return;
      }
      prefix ??= prefixOf(sessionKey);
      const key = earlier?.key ?? this.keyFor(prefix);
      after.set(o.message, { key, packetId: o.packetId, state: o.state, inflight: isInflight });
      writes.push(db.put(key, encodeStoredMessage(o, isInflight)));
    };
    for (const o of inflight) put(o, true);
    for (const o of queued) put(o, false);
    for (const [message, gone] of before) if (!after.has(message)) writes.push(db.remove(gone.key));
    if (after.size > 0) this.written.set(id, after);
    else this.written.delete(id);
    return writes;
  }

  /** Queues the removal of every entry of the session. */
  removeAll(db: Database<Buffer, Buffer>, sessionKey: Buffer): Promise<unknown>[] {
    this.written.delete(sessionKey.toString('hex'));
    const start = prefixOf(sessionKey);
    return Array.from(db.getKeys({ start, end: endOf(start) }), (key) => db.remove(key as Buffer));
  }

  /**
   * The session's entries in arrival order, inflight and queued, their bytes
   * as Buffers; they count as written. An entry that is not a message is
   * skipped (and reported through `skip`).
   */
  read(db: Database<Buffer, Buffer>, sessionKey: Buffer, skip: (key: Buffer) => void): { inflight: Outgoing[]; queued: Outgoing[] } {
    const inflight: Outgoing[] = [];
    const queued: Outgoing[] = [];
    const written = new Map<AppMessage, Written>();
    const start = prefixOf(sessionKey);
    for (const { key, value } of db.getRange({ start, end: endOf(start) })) {
      let entry: { outgoing: Outgoing; inflight: boolean };
      try {
        entry = decodeStoredMessage(value);
      } catch {
        skip(key as Buffer);
        continue;
      }
      const o = entry.outgoing;
      written.set(o.message, { key: Buffer.from(key as Buffer), packetId: o.packetId, state: o.state, inflight: entry.inflight });
      (entry.inflight ? inflight : queued).push(o);
    }
    if (written.size > 0) this.written.set(sessionKey.toString('hex'), written);
    return { inflight, queued };
  }

  private keyFor(prefix: Buffer): Buffer {
    const seq = this.next++;
    const key = Buffer.allocUnsafe(prefix.length + 8);
    prefix.copy(key, 0);
    key.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), prefix.length);
    key.writeUInt32BE(seq >>> 0, prefix.length + 4);
    return key;
  }
}
