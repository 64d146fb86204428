/**
 * The acknowledgements an actor host with a session store holds back: each
 * QoS 1/2 publish of its clients gets an id that travels with the `publish`
 * frame, and a promise that settles when the main thread answers `released`:
 * true when every host that got the message and the retained store
 * committed it, false when a commit failed. (The publisher's own state, a
 * QoS 2 id, is committed before the message is routed, and its PUBREC waits
 * for the commit that marks it acknowledged.) Runs wherever the actor host
 * runs.
 */

export class PublishAcks {
  private readonly waiting = new Map<number, (kept: boolean) => void>();
  private nextId = 1;

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
    resolve(ok);
  }
}
