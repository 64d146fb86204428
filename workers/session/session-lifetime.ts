/**
 * A session's life without a transport: the will of its connection, sent
 * when the transport goes (at once, or after its Will Delay Interval unless
 * a connection comes back first), and the expiry of the offline session
 * (its deadline and timer). Kept by each SessionActor, which says when its
 * transport comes and goes and what publishing the will and expiring mean.
 * Runs wherever the actor host runs.
 */
import { timerFor } from './deadline-timer.js';
import type { Will } from './session-context.js';
import type { WillRecord } from './session-store.js';

/** What the lifetime does through its session. */
export interface LifetimeActions {
  /** Publishes the will's message (the session's state changed). */
  publishWill(will: Will): void;
  /** The offline session's deadline passed. */
  expired(): void;
}

export class SessionLifetime {
  /** The will of the current connection, sent when its transport goes. */
  will: Will | undefined;
  /** A will waiting for its delay, and when it goes out (ms since the epoch). */
  private pending: Will | undefined;
  private pendingAt = 0;
  private willTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Milliseconds since the epoch when the offline session ends; null while connected, or when it never does. */
  private deadlineAt: number | null = null;

  constructor(private readonly actions: LifetimeActions) {}

  get deadline(): number | null {
    return this.deadlineAt;
  }

  /** A connection takes the session, with `will`: a will waiting for its delay is cancelled, the session no longer expires. */
  attached(will: Will | undefined): void {
    this.stopTimers();
    this.will = will;
    this.deadlineAt = null;
  }

  /** The transport went: the connection's will goes now, or after its delay capped by the session's `expiry` (seconds). */
  transportGone(expiry: number): void {
    const will = this.will;
    if (!will) return;
    this.will = undefined;
    if (will.delaySeconds === 0 || expiry === 0) this.publish(will);
    else this.delay(will, Date.now() + Math.min(will.delaySeconds, expiry) * 1000);
  }

  /** Arms the expiry of the offline session for `deadline` (null: it never expires). */
  expireAt(deadline: number | null): void {
    this.deadlineAt = deadline;
    if (deadline === null) return;
    timerFor(
      deadline,
      () => this.actions.expired(),
      (timer) => {
        this.expiryTimer = timer;
      },
    );
  }

  /** A CONNECT is being registered on the session: it must not expire meanwhile. */
  holdExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  /** The will a store keeps: one waiting for its delay with its publish time, else the connection's. */
  recordedWill(): WillRecord | undefined {
    if (this.pending) return { ...this.pending, publishAt: this.pendingAt };
    return this.will ? { ...this.will } : undefined;
  }

  /** Takes back a stored will: one waiting for its delay keeps its deadline; a connection's follows the loss of its transport. */
  restore(will: WillRecord, expiry: number): void {
    const { message, delaySeconds, publishAt } = will;
    if (publishAt !== undefined) this.delay({ message, delaySeconds }, publishAt);
    else {
      this.will = { message, delaySeconds };
      this.transportGone(expiry);
    }
  }

  /** The session moves to another node with its record: no will goes out here, no timer runs on. */
  forget(): void {
    this.will = undefined;
    this.pending = undefined;
    this.stopTimers();
  }

  /** The session ends: its timers stop, and a will still waiting for its delay goes now [MQTT-3.1.3-9]. */
  end(): void {
    const will = this.pending;
    this.stopTimers();
    if (will) this.publish(will);
  }

  /** Publishes `will` at `at`, unless a connection comes back first. */
  private delay(will: Will, at: number): void {
    this.pending = will;
    this.pendingAt = at;
    timerFor(
      at,
      () => {
        this.willTimer = undefined;
        this.publish(will);
      },
      (timer) => {
        this.willTimer = timer;
      },
    );
  }

  private publish(will: Will): void {
    this.pending = undefined;
    this.actions.publishWill(will);
  }

  private stopTimers(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    clearTimeout(this.willTimer);
    this.willTimer = undefined;
    this.pending = undefined;
  }
}
