/**
 * The acknowledgements an actor host with a session store holds back: each
 * QoS 1/2 publish of its clients gets an id that travels with the `publish`
 * frame, and a promise that settles when the main thread answers `released`
 * (every host that got the message and the retained store committed it)
 * and this host's own commit of what changed until then (the inbound QoS 2
 * id of the publisher's session) is done: true when all of it is kept, false when a
 * commit failed. Runs wherever the actor host runs.
 */
import type { AfterCommit } from './session-saver.js';

export class PublishAcks {
  private readonly waiting = new Map<number, (kept: boolean) => void>();
  private nextId = 1;

  /** `afterCommit`: the host's way to wait for its own commit of what changed so far. */
  constructor(private readonly afterCommit: (next: AfterCommit) => void) {}

  /** An id for a publish about to be routed, and whether what it needs is kept, once known. */
  reserve(): { ackId: number; kept: Promise<boolean> } {
    const ackId = this.nextId;
    this.nextId = ackId === 0xffffffff ? 1 : ackId + 1;
    const kept = new Promise<boolean>((resolve) => this.waiting.set(ackId, resolve));
    return { ackId, kept };
  }

  /** The main thread's `released` frame for `ackId`. */
  released(ackId: number, ok: boolean): void {
    const resolve = this.waiting.get(ackId);
    if (resolve === undefined) return;
    this.waiting.delete(ackId);
    this.afterCommit((committed) => resolve(ok && committed));
  }
}
