/**
 * The writes of one actor host to its session store: which sessions changed
 * in this event-loop turn (written together by one commit per turn, one
 * record per session however many changes it had), which sessions have a
 * record (a clean session outside them is never written), what waits for a
 * commit (acknowledgements, PUBREL and PUBCOMP, the reports of deliveries),
 * and the final commit and close when the host shuts down. Runs wherever
 * the actor host runs.
 */
import { isPromise, type MaybePromise } from '../src/shared/async.js';
import type { Logger } from '../src/shared/log.js';
import type { SessionRecord, SessionStore } from './session/session-store.js';

/** A session as its store sees it. */
export interface SavedSession {
  readonly pool: string;
  readonly clientId: string;
  /** Seconds the session outlives its transport: 0 is a clean session, never written. */
  readonly sessionExpiry: number;
  toRecord(): SessionRecord;
  toMessages(): Pick<SessionRecord, 'inflight' | 'queued'>;
}

/** What waits for a commit: called with true once it is committed, false when it failed. */
export type AfterCommit = (ok: boolean) => void;

export class SessionSaver {
  /**
   * Sessions whose record changed since the last commit (a commit is
   * scheduled while set): true when only their messages did.
   */
  private unsaved: Map<SavedSession, boolean> | undefined;
  /** Called once the commit scheduled for this turn settles. */
  private waiters: AfterCommit[] = [];
  /** The latest commit while it is in flight: true once committed, false when it failed. */
  private inFlight: Promise<boolean> | undefined;
  /** Sessions that have a record in the store (saved, or taken back from it). */
  private readonly recorded = new Set<SavedSession>();
  /** Set once the final commit is made: nothing reaches the store afterwards, and nothing more waits. */
  private closed = false;

  /** `live`: the session the host has now under a pool and client id, if any. */
  constructor(
    private readonly store: SessionStore,
    private readonly log: Logger,
    private readonly live: (pool: string, clientId: string) => SavedSession | undefined,
  ) {}

  /** A session taken back from the store: it has a record. */
  taken(session: SavedSession): void {
    this.recorded.add(session);
  }

  /**
   * The session's state changed (its queue, inflight messages, acknowledgements,
   * inbound QoS 2 ids, will, subscriptions, connection): its record is
   * written with the others of this turn; with `messagesOnly`, only its
   * inflight and queued messages changed. Only for a persistent session or
   * one whose earlier record must go.
   */
  changed(session: SavedSession, messagesOnly = false): void {
    if (this.closed || (session.sessionExpiry === 0 && !this.recorded.has(session))) return;
    if (!this.unsaved) {
      this.unsaved = new Map();
      setImmediate(() => void this.commit());
    }
    this.unsaved.set(session, messagesOnly && this.unsaved.get(session) !== false);
  }

  /** Marks that `session` got a copy of the QoS 2 publish `qos2Id` (a persistent session only), committed with its record. */
  markDelivered(qos2Id: string, session: SavedSession): void {
    if (!this.closed && session.sessionExpiry > 0) this.store.markDelivered(qos2Id, session.pool, session.clientId);
  }

  /** Whether `session` got a copy of the QoS 2 publish `qos2Id` before (this run or, committed, an earlier one). */
  delivered(qos2Id: string, session: SavedSession): boolean {
    return this.store.delivered(qos2Id, session.pool, session.clientId);
  }

  /** The QoS 2 publish `qos2Id` is never routed again: its marks go with the next commit. */
  forgetDelivered(qos2Id: string): void {
    if (!this.closed) this.store.forgetDelivered(qos2Id);
  }

  /**
   * Calls `next` once everything changed so far is committed: after the
   * commit this turn scheduled, or the one in flight, or now when nothing
   * waits to be committed. Never after the host shut down.
   */
  afterCommit(next: AfterCommit): void {
    if (this.closed) return;
    if (this.unsaved) this.waiters.push(next);
    else if (this.inFlight) void this.inFlight.then(next);
    else next(true);
  }

  /**
   * Group commit: one record per changed session (its latest state, or its
   * removal once it ended, was replaced by a clean start, or stopped being
   * persistent), one store commit; then what waited for it.
   */
  private commit(): MaybePromise<void> {
    const { unsaved, waiters, store } = this;
    if (!unsaved) return;
    this.unsaved = undefined;
    this.waiters = [];
    for (const [session, messagesOnly] of unsaved) {
      // What the store keeps for this pool and client id is the session there is now, if it is persistent.
      const live = this.live(session.pool, session.clientId);
      if (live && live.sessionExpiry > 0) {
        if (messagesOnly && live === session && this.recorded.has(live)) store.saveMessages(live.pool, live.clientId, live.toMessages());
        else store.save(live.toRecord());
        this.recorded.add(live);
      } else store.remove(session.pool, session.clientId);
      if (live !== session) this.recorded.delete(session);
      if (live && live.sessionExpiry === 0) this.recorded.delete(live);
    }
    const settle = (ok: boolean): void => {
      if (!this.closed) for (const next of waiters) next(ok);
    };
    let done: MaybePromise<void>;
    try {
      done = store.commit();
    } catch (err) {
      this.log.error({ err }, 'session store commit failed');
      return settle(false);
    }
    if (!isPromise(done)) return settle(true);
    const committed = done.then(
      () => true,
      (err: unknown) => {
        this.log.error({ err }, 'session store commit failed');
        return false;
      },
    );
    this.inFlight = committed;
    return committed.then((ok) => {
      if (this.inFlight === committed) this.inFlight = undefined;
      settle(ok);
    });
  }

  /**
   * The host shuts down: every session in `sessions` is written once more,
   * committed, and the store closed once that settled (a worker is
   * terminated soon after its shutdown answers, and must not be inside the
   * store's close then). Nothing waiting for this commit is called. Never
   * rejects.
   */
  close(sessions: Iterable<SavedSession>): MaybePromise<void> {
    if (this.closed) return undefined;
    for (const session of sessions) this.changed(session);
    this.waiters = [];
    const committed = this.commit();
    this.closed = true;
    const { store } = this;
    if (!store.close) return committed;
    const close = (): MaybePromise<void> => {
      try {
        const closing = store.close!();
        return isPromise(closing)
          ? closing.catch((err: unknown) => this.log.error({ err }, 'closing the session store failed'))
          : undefined;
      } catch (err) {
        this.log.error({ err }, 'closing the session store failed');
        return undefined;
      }
    };
    return isPromise(committed) ? committed.then(close) : close();
  }
}
