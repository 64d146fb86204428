/**
 * A listener on a named BroadcastChannel for test fixtures that report from
 * any actor host (the main thread or a worker): it keeps every message in
 * arrival order and waits, bounded, for the first one (seen or to come) that
 * satisfies a predicate. Runs on the test process's main thread.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { WAIT_MS } from './clients.js';

export class ChannelLog<T> {
  /** Every message received so far, in arrival order. */
  readonly all: T[] = [];
  private readonly channel: BroadcastChannel;
  private waiters: Array<{ match: (m: T) => boolean; resolve: (m: T) => void }> = [];

  constructor(name: string) {
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (event) => {
      const message = (event as { data: T }).data;
      this.all.push(message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    };
  }

  /**
   * The first message (seen or to come) that satisfies `match`, after the
   * first `skip` such messages; rejects with `no <what> within <ms> ms` after
   * `timeoutMs`.
   */
  waitFor(match: (m: T) => boolean, what: string, timeoutMs = WAIT_MS, skip = 0): Promise<T> {
    const seen = this.all.filter(match);
    if (seen.length > skip) return Promise.resolve(seen[skip] as T);
    let toSkip = skip - seen.length;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match: (m) => match(m) && toSkip-- === 0,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.channel.close();
  }
}
