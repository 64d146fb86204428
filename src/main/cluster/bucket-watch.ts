/**
 * A watch of a key-value bucket that outlives NATS restarts: every entry is
 * applied in revision order, from the start of the bucket (each key's last
 * value, then what changes) or from the revision it was at when the watch
 * began; a watch that ends or fails is taken up again from the revision
 * after the last one applied, so nothing written meanwhile is missed. Main
 * thread.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from '../../shared/log.js';

/** How long a watch that ended waits before it is taken up again, in ms. */
const REWATCH_DELAY_MS = 250;

export class BucketWatch {
  private lastRevision = 0;
  private stopped = false;
  private stopIterator: (() => void) | undefined;

  constructor(
    private readonly bucket: KV,
    private readonly apply: (entry: KvEntry) => void,
    private readonly log: Logger,
  ) {}

  /**
   * Starts watching: `fromStart` applies every key's last value first and
   * resolves once those there were at the start are applied; otherwise only
   * what changes from now on is applied, and it resolves at once.
   */
  async start(fromStart: boolean): Promise<void> {
    const status = await this.bucket.status();
    if (!fromStart) {
      this.lastRevision = status.streamInfo.state.last_seq;
      void this.run(() => undefined);
      return;
    }
    await new Promise<void>((caughtUp) => {
      if (status.values === 0) caughtUp();
      void this.run(caughtUp);
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopIterator?.();
  }

  private async run(caughtUp: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        const resume = this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision + 1 } : {};
        const entries = await this.bucket.watch(resume);
        this.stopIterator = () => entries.stop();
        if (this.stopped) entries.stop();
        for await (const entry of entries) {
          this.lastRevision = entry.revision;
          this.applyOne(entry);
          if (entry.delta === 0) caughtUp();
        }
      } catch (err) {
        if (!this.stopped) this.log.warn({ err }, 'cluster: watching a bucket failed; watching again');
      }
      if (!this.stopped) await new Promise((resume) => setTimeout(resume, REWATCH_DELAY_MS));
    }
  }

  private applyOne(entry: KvEntry): void {
    try {
      this.apply(entry);
    } catch (err) {
      this.log.warn({ err, bucket: entry.bucket, key: entry.key }, 'cluster: a bucket entry that does not decode was skipped');
    }
  }
}
