/**
 * Retained messages cluster-wide: a key-value bucket (`{prefix}-retained`,
 * one entry per pool and topic, history 1) holds the latest retained
 * message of every topic, an empty payload for a cleared one. A node puts
 * the retained messages routed on it there, and applies every entry it
 * watches, its own included, to its local retained store in the bucket's
 * order, so every node ends with the same message per topic. A node
 * joining (or coming back) reads the whole bucket before it serves; a
 * watch that ends (NATS restarted) is taken up again from the next
 * revision. Main thread.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { AppMessage } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import { bucketKey } from './subjects.js';
import { packRetained, unpackRetained } from './wire.js';

/** Where entries of the bucket are applied. */
export interface RetainedTarget {
  retainFromBridge(pool: string, message: AppMessage): void;
}

/** How long a watch that ended waits before it is taken up again, in ms. */
const REWATCH_DELAY_MS = 250;

export class ClusterRetained {
  private lastRevision = 0;
  private closed = false;
  private stopWatch: (() => void) | undefined;
  private failedPuts = 0;

  constructor(
    private readonly bucket: KV,
    private readonly target: RetainedTarget,
    private readonly log: Logger,
  ) {}

  /** Applies the whole bucket, then keeps watching it; resolves once the entries there were at the start are applied. */
  async start(): Promise<void> {
    const status = await this.bucket.status();
    await new Promise<void>((caughtUp) => {
      if (status.values === 0) caughtUp();
      void this.watch(caughtUp);
    });
  }

  /** Puts a retained message routed here in `pool` (an empty payload clears the topic's). */
  put(pool: string, message: AppMessage): void {
    this.bucket.put(bucketKey(pool, message.topic), packRetained(pool, message)).catch((err: unknown) => {
      this.failedPuts++;
      this.log.warn({ err, pool, topic: message.topic }, 'cluster: a retained message could not be stored in the bucket');
    });
  }

  /** Retained messages that could not be put in the bucket since the node joined. */
  get failed(): number {
    return this.failedPuts;
  }

  close(): void {
    this.closed = true;
    this.stopWatch?.();
  }

  private async watch(caughtUp: () => void): Promise<void> {
    while (!this.closed) {
      try {
        const from = this.lastRevision + 1;
        const entries = await this.bucket.watch(this.lastRevision > 0 ? { resumeFromRevision: from } : {});
        this.stopWatch = () => entries.stop();
        for await (const entry of entries) {
          this.apply(entry);
          if (entry.delta === 0) caughtUp();
        }
      } catch (err) {
        if (!this.closed) this.log.warn({ err }, 'cluster: watching the retained bucket failed; watching again');
      }
      if (!this.closed) await new Promise((resume) => setTimeout(resume, REWATCH_DELAY_MS));
    }
  }

  private apply(entry: KvEntry): void {
    this.lastRevision = entry.revision;
    if (entry.operation !== 'PUT') return;
    try {
      const { pool, message } = unpackRetained(entry.value);
      this.target.retainFromBridge(pool, message);
    } catch (err) {
      this.log.warn({ err, key: entry.key }, 'cluster: a retained entry that does not decode was skipped');
    }
  }
}
