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
  /** Packet ids of incoming QoS 2 messages waiting for their PUBREL [MQTT-4.3.3-10], routed without a publish id. */
  awaitingRelease: number[];
  /** Incoming QoS 2 messages waiting for their PUBREL that were routed with a publish id (with a store). */
  inboundQos2?: InboundQos2Record[];
}

/** An incoming QoS 2 message routed with a store: its publish id, and whether every place it went to committed it. */
export interface InboundQos2Record {
  packetId: number;
  qos2Id: string;
  kept: boolean;
}

export interface SessionStore {
  /** Every record this host's store holds, once, when the host starts. */
  load(): MaybePromise<readonly SessionRecord[]>;
  /** Stages `record` in place of the session's earlier one; durable once commit() settles. */
  save(record: SessionRecord): void;
  /**
   * Stages the session's inflight and queued messages in place of the ones
   * of its last staged or committed record (the rest of it unchanged): a
   * store may write only the messages that changed.
   */
  saveMessages(pool: string, clientId: string, messages: Pick<SessionRecord, 'inflight' | 'queued'>): void;
  /** Stages the removal of the session `clientId` of `pool`. */
  remove(pool: string, clientId: string): void;
  /**
   * Stages the mark that session `clientId` of `pool` got a copy of the QoS 2
   * publish `qos2Id`, committed with its record: a publish routed again after
   * a restart skips the sessions marked.
   */
  markDelivered(qos2Id: string, pool: string, clientId: string): void;
  /** Whether that mark is staged or committed. */
  delivered(qos2Id: string, pool: string, clientId: string): boolean;
  /** Stages the removal of every mark of `qos2Id` (its publisher sent PUBREL: it is never routed again). */
  forgetDelivered(qos2Id: string): void;
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
  /** QoS 2 delivery marks by publish id: the sessions (`keyOf`) marked, staged or committed alike. */
  private readonly marks = new Map<string, Set<string>>();

  load(): readonly SessionRecord[] {
    return [...this.records.values()];
  }

  save(record: SessionRecord): void {
    this.staged.set(keyOf(record.pool, record.clientId), record);
  }

  saveMessages(pool: string, clientId: string, messages: Pick<SessionRecord, 'inflight' | 'queued'>): void {
    const key = keyOf(pool, clientId);
    const latest = this.staged.has(key) ? this.staged.get(key) : this.records.get(key);
    if (latest) this.staged.set(key, { ...latest, ...messages });
  }

  remove(pool: string, clientId: string): void {
    this.staged.set(keyOf(pool, clientId), null);
  }

  markDelivered(qos2Id: string, pool: string, clientId: string): void {
    let sessions = this.marks.get(qos2Id);
    if (sessions === undefined) this.marks.set(qos2Id, (sessions = new Set()));
    sessions.add(keyOf(pool, clientId));
  }

  delivered(qos2Id: string, pool: string, clientId: string): boolean {
    return this.marks.get(qos2Id)?.has(keyOf(pool, clientId)) ?? false;
  }

  forgetDelivered(qos2Id: string): void {
    this.marks.delete(qos2Id);
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
