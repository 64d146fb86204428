/**
 * The retained message store seam: what the router asks of the store that
 * keeps one retained message per topic name and pool (spec section 3.3.1.3).
 * The in-memory store (MemoryRetainedStore) is the default; an embedding
 * application may hand its own to createBroker (e.g. a durable or a remote
 * one). Types only; implemented and called on the main thread.
 *
 * Every operation may answer at once or with a promise. The router stays
 * synchronous while the store answers at once, and copes with a promise:
 * the retained messages of a new subscription are delivered as `match` visits
 * them, still after the SUBACK and in the store's order, and only while that
 * subscription stands. A rejection is logged; the router goes on.
 */
import type { MaybePromise } from '../shared/async.js';
import type { AppMessage } from '../shared/message/app-message.js';

export type { MaybePromise };

/** What a retained store holds, over every pool. */
export interface RetainedStoreStats {
  /** Stored messages. */
  count: number;
  /** Estimated bytes they take. */
  bytes: number;
}

/**
 * Calls come in order from the main thread, and the store applies them in
 * that order, per pool: a `match` made after a `set` or `delete` answers with
 * its outcome (or a later one). A store reports a failure by rejecting; it
 * does not throw (the call is made while a batch of client packets is
 * handled).
 */
export interface RetainedStore {
  /**
   * Stores `message` as the retained message of its topic in `pool`,
   * replacing the previous one [MQTT-3.3.1-5]; a message already expired at
   * `now` (`expiresAt <= now`) deletes it instead. The router hands over a
   * copy whose payload (non-empty) owns its memory: the store may keep it by
   * reference, and must not modify it.
   */
  set(pool: string, message: AppMessage, now: number): MaybePromise<void>;

  /** Deletes the retained message of `topic` in `pool`, if any (a retained PUBLISH with an empty payload, [MQTT-3.3.1-10]). */
  delete(pool: string, topic: string): MaybePromise<void>;

  /**
   * Calls `visit` for every message of `pool` unexpired at `now` whose topic
   * matches the topic filter `filter` (valid, without a `$share/` prefix;
   * `+` and `#` do not match a first level starting with `$`,
   * [MQTT-4.7.2-1]), in the store's order, then settles. A store that
   * answers at once visits them all before returning and returns undefined;
   * one that answers later may visit them before or as its promise settles,
   * never after. `visit` does not modify or keep the message beyond the call.
   */
  match(pool: string, filter: string, now: number, visit: (message: AppMessage) => void): MaybePromise<void>;

  /** Removes every message expired at `now`, in every pool; answers how many went. */
  sweepExpired(now: number): MaybePromise<number>;

  /** What the store holds as it knows now (a remote store: its last known figures). Called for Broker.stats(), not per message. */
  stats(): RetainedStoreStats;
}
