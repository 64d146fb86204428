/**
 * The packets (and the close) of a session's connection that arrive while a
 * hook answers an earlier packet asynchronously: kept in order, and handed
 * back once the hook answered, until another one answers asynchronously and
 * the rest wait again. One per SessionActor; runs wherever the actor host runs.
 */
import type { TransportClosed } from '../../src/shared/channel/frames.js';

/** A packet of connection `connId`, or its close. */
export type Held = { connId: number; bytes: Buffer; closed?: undefined } | { connId: number; bytes?: undefined; closed: TransportClosed };

export class HeldPackets {
  private waiting: Held[] | undefined;

  /** A hook is answering asynchronously: what comes now must wait. */
  get holding(): boolean {
    return this.waiting !== undefined;
  }

  /** From now on, what comes waits (until release()). */
  hold(): void {
    this.waiting = [];
  }

  /** Keeps `item` until release(); a packet's bytes are copied, as the batch they came in is not the session's to keep. */
  push(item: Held): void {
    this.waiting?.push(item.bytes ? { connId: item.connId, bytes: Buffer.from(item.bytes) } : item);
  }

  /** Hands each waiting item to `handle`, in order, until one makes the session hold again: the rest keep waiting. */
  release(handle: (item: Held) => void): void {
    const items = this.waiting ?? [];
    this.waiting = undefined;
    for (let i = 0; i < items.length; i++) {
      handle(items[i]!);
      // handle() may have called hold(), which the narrowing above does not see.
      const again = this.waiting as Held[] | undefined;
      if (again !== undefined) {
        again.push(...items.slice(i + 1));
        return;
      }
    }
  }
}
