/**
 * The control contract between the main thread and an actor host: what the
 * main thread may ask a host outside the data plane (stats, shutdown, a
 * server-initiated disconnect, readiness) and the shapes those calls carry.
 * Served over comlink by a worker host, called directly on an inline one.
 * Types, the names of the drop counters and the ranking of the top
 * sessions; used on every thread.
 */
import type { ThreadLoadStats } from '../thread-load.js';
import type { BatchStats } from './outbox.js';

export interface HostStats {
  host: number;
  sessions: number;
  connected: number;
  queued: number;
  /** Estimated bytes of the queued messages (src/shared/message/message-bytes.ts plus a fixed cost per entry). */
  queuedBytes: number;
  inflight: number;
  drops: { queueFull: number; packetTooLarge: number; rateLimited: number; expired: number };
  /** The batches this host sent to the main thread. */
  batches: BatchStats;
  /** The load of the host's own worker thread; absent for a host on the main thread (the main thread's load is its). */
  thread?: ThreadLoadStats;
}

/** The drop counters of HostStats by the reason name that `$SYS`, the metrics and on_message_drop use. */
export const HOST_DROP_REASONS = {
  queue_full: 'queueFull',
  max_packet_size_exceeded: 'packetTooLarge',
  rate_limited: 'rateLimited',
  expired: 'expired',
} as const satisfies Record<string, keyof HostStats['drops']>;

/** What the sessions are ranked by: messages queued and inflight, or packets received and sent. */
export type TopSessionsBy = 'queue' | 'packets';

/** What a top-N answer ranks a session by: its messages queued and inflight, or its packets both ways. */
export function sessionWeight(by: TopSessionsBy): (s: Omit<SessionSummary, 'clientId' | 'pool' | 'host' | 'connected'>) => number {
  return by === 'queue' ? (s) => s.queued + s.inflight : (s) => s.packetsIn + s.packetsOut;
}

/** One session of a top-N answer (Broker.topSessions). */
export interface SessionSummary {
  clientId: string;
  pool: string;
  host: number;
  connected: boolean;
  queued: number;
  inflight: number;
  packetsIn: number;
  packetsOut: number;
}

/** A DISCONNECT the embedding application or a module plugin asks for: a reason code a server may send, and its optional properties. */
export interface ServerDisconnect {
  reasonCode: number;
  reasonString?: string;
  serverReference?: string;
}

/** Where the clients should go when the broker closes (5.0 Server Reference): 0x9D Server moved when `permanent`, else 0x9C Use another server. */
export interface ServerRedirect {
  serverReference: string;
  permanent: boolean;
}

/** The control-plane surface of a host (served over comlink for worker hosts). */
/**
 * A session as its host's store keeps it (workers/session/session-store.ts
 * `SessionRecord`): plain data that the main thread carries between the
 * nodes of a cluster without reading more of it than its pool and client id.
 */
export interface MovedSession {
  readonly pool: string;
  readonly clientId: string;
}

export interface HostControl {
  stats(): Promise<HostStats>;
  /** The `limit` sessions of this host with the most messages queued and inflight, or with the most packets, most first. */
  topSessions(by: TopSessionsBy, limit: number): Promise<SessionSummary[]>;
  /**
   * Tells every connected 5.0 client that the server shuts down (0x8B), or
   * where to go instead with `redirect`, closes every transport, and stops.
   */
  shutdown(redirect?: ServerRedirect): Promise<void>;
  /**
   * Disconnects the connected client `clientId` of `pool`, if this host has
   * it: a server-initiated disconnect (its will follows, its session lives on
   * per its expiry). False when this host has no such connected client.
   */
  disconnect(pool: string, clientId: string, request: ServerDisconnect): Promise<boolean>;
  /**
   * The session `clientId` of `pool` continues on another node: its
   * connection gets DISCONNECT 0x8E and closes, and it leaves this host;
   * resolves with its record, or undefined when this host has none.
   */
  handOver(pool: string, clientId: string): Promise<MovedSession | undefined>;
  /** The pool and client id of every session this host holds. */
  sessionKeys(): Promise<Array<{ pool: string; clientId: string }>>;
  /** Takes sessions handed over by another node (records of handOver), offline, in place of any this host has under the same pool and client id. */
  restore(records: readonly MovedSession[]): Promise<void>;
  /** Resolves with the hooks the host's module plugins implement once they and the runtime are loaded; rejects with the loading error. */
  ready(): Promise<string[]>;
}
