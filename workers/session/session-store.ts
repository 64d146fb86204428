/**
 * The session store seam: what an actor host saves of its sessions so that
 * it (or its replacement) can take them back after a restart. A
 * `SessionRecord` is plain data (Buffers allowed; no class instances, no
 * functions), so a store may keep it in memory, on disk, or elsewhere. A
 * store answers now or with a promise; writes are staged by `save` and
 * `remove` and made durable together by `commit`, which the host calls at
 * most once per event-loop turn (group commit: one transaction per turn,
 * never one per message). One store instance serves one actor host and its
 * shard of sessions. `MemorySessionStore` keeps the last committed record
 * of each session. Runs wherever the actor host runs.
 */
import type { AppMessage } from '../../src/shared/message/app-message.js';
import type { UserContext } from '../../src/api/runtime.js';
import type { MaybePromise } from '../../src/shared/async.js';
import type { Outgoing } from './outbound-flow.js';
import { withBuffers } from '../../src/shared/message/owned.js';
import type { SubscriptionOptions } from './session-context.js';
import type { SessionLimits } from './session-limits.js';

/** One subscription of a session with its options (and 5.0 Subscription Identifier, 0 = none). */
export interface SubscriptionRecord extends SubscriptionOptions {
  /**
   * The topic filter as subscribed; a `$share/{group}/{filter}` one is the
   * session's membership of that shared subscription group.
   */
  filter: string;
}

/** The will of a session, and when it goes out when its Will Delay Interval is already running. */
export interface WillRecord {
  message: AppMessage;
  delaySeconds: number;
  /** Milliseconds since the epoch when the will is published, for a session offline with a will waiting for its delay. */
  publishAt?: number;
}

/** A session as a store keeps it: everything a host needs to take it back offline. */
export interface SessionRecord {
  pool: string;
  clientId: string;
  protocolVersion: number;
  /** The Session Expiry Interval in seconds (3.1.1: `persistentSessionExpiry` for clean session 0). */
  sessionExpiry: number;
  /** Milliseconds since the epoch when the offline session ends; null when it never does. */
  expiresAt: number | null;
  /** The user name of the last connection, as plugins see it. */
  username?: string;
  /** The runtime's user context, as the runtime gave it (plain data for a store that serializes; the default runtime's is). */
  userContext: UserContext;
  /** The limits of the last connection (plugin modifiers included): its offline queue is bounded by them. */
  limits: SessionLimits;
  subscriptions: SubscriptionRecord[];
  will?: WillRecord;
  /**
   * Unacknowledged outgoing QoS 1/2 messages with their packet ids: state
   * 'publish' waits for PUBACK / PUBREC (resent with DUP), 'pubrel' for
   * PUBCOMP (PUBREL resent). A message picked for a shared subscription
   * names it in `share`.
   */
  inflight: Outgoing[];
  /** Messages waiting for an inflight slot, oldest first. */
  queued: Outgoing[];
  /** Packet ids of incoming QoS 2 messages waiting for their PUBREL [MQTT-4.3.3-10]. */
  awaitingRelease: number[];
}

export interface SessionStore {
  /** Every record this host's store holds, once, when the host starts. */
  load(): MaybePromise<readonly SessionRecord[]>;
  /** Stages `record` in place of the session's earlier one; durable once commit() settles. */
  save(record: SessionRecord): void;
  /** Stages the removal of the session `clientId` of `pool`. */
  remove(pool: string, clientId: string): void;
  /** Writes everything staged since the last commit, as one transaction. */
  commit(): MaybePromise<void>;
  /** Releases what the store holds (files, handles); the host calls it once, after its final commit at shutdown. */
  close?(): MaybePromise<void>;
}

function keyOf(pool: string, clientId: string): string {
  return `${pool}\0${clientId}`;
}

/** A store in the host's memory: the last committed record of each session; nothing outlives the process. */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, SessionRecord>();
  /** Staged writes: a record to save, or null to remove. */
  private readonly staged = new Map<string, SessionRecord | null>();

  load(): readonly SessionRecord[] {
    return [...this.records.values()];
  }

  save(record: SessionRecord): void {
    this.staged.set(keyOf(record.pool, record.clientId), record);
  }

  remove(pool: string, clientId: string): void {
    this.staged.set(keyOf(pool, clientId), null);
  }

  commit(): void {
    for (const [key, record] of this.staged) {
      if (record) this.records.set(key, record);
      else this.records.delete(key);
    }
    this.staged.clear();
  }
}

/** An outgoing message as a record keeps it: its own list of subscription identifiers, the message shared. */
export function recordedOutgoing(o: Outgoing): Outgoing {
  return { ...o, subscriptionIds: [...o.subscriptionIds] };
}

/** An outgoing message taken back from a record, its bytes as Buffers. */
export function restoredOutgoing(o: Outgoing): Outgoing {
  return { ...o, message: withBuffers(o.message), subscriptionIds: [...o.subscriptionIds] };
}
