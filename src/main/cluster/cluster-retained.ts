/**
 * Retained messages cluster-wide: a key-value bucket (`{prefix}-retained`,
 * one entry per pool and topic, history 1) holds the latest retained
 * message of every topic, an empty payload for a cleared one. A node puts
 * the retained messages routed on it there, and applies every entry it
 * watches, its own included, to its local retained store in the bucket's
 * order, so every node ends with the same message per topic. A node
 * joining (or coming back) reads the whole bucket before it serves. A put
 * that fails (NATS unreachable, JetStream not answering yet after a
 * restart) is kept, the latest per topic, and put again every
 * RETRY_INTERVAL_MS and when the link is back. Main thread.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { AppMessage } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import { BucketWatch } from './bucket-watch.js';
import { bucketKey } from './subjects.js';
import { packRetained, unpackRetained } from './wire.js';

/** Where entries of the bucket are applied. */
export interface RetainedTarget {
  retainFromBridge(pool: string, message: AppMessage): void;
}

/** How often the puts that failed are tried again, in ms. */
const RETRY_INTERVAL_MS = 1000;

export class ClusterRetained {
  private readonly watch: BucketWatch;
  private failedPuts = 0;
  /** Puts that failed, the latest per bucket key (by their number), waiting for the link to come back. */
  private readonly unput = new Map<string, { n: number; bytes: Buffer }>();
  private puts = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bucket: KV,
    private readonly target: RetainedTarget,
    private readonly log: Logger,
  ) {
    this.watch = new BucketWatch(bucket, (entry) => this.apply(entry), log);
  }

  /** Applies the whole bucket, then keeps watching it; resolves once the entries there were at the start are applied. */
  start(): Promise<void> {
    return this.watch.start(true);
  }

  /** Puts a retained message routed here in `pool` (an empty payload clears the topic's). */
  put(pool: string, message: AppMessage): void {
    this.send(bucketKey(pool, message.topic), packRetained(pool, message));
  }

  /** The link is back: the puts that failed are made again. */
  retry(): void {
    const waiting = [...this.unput];
    this.unput.clear();
    for (const [key, { bytes }] of waiting) this.send(key, bytes);
  }

  private send(key: string, bytes: Buffer): void {
    const n = ++this.puts;
    this.bucket.put(key, bytes).then(
      () => {
        if ((this.unput.get(key)?.n ?? n) < n) this.unput.delete(key);
      },
      (err: unknown) => {
        this.failedPuts++;
        if ((this.unput.get(key)?.n ?? 0) < n) this.unput.set(key, { n, bytes });
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          this.retry();
        }, RETRY_INTERVAL_MS).unref();
        this.log.warn({ err, key }, 'cluster: a retained message could not be stored in the bucket; kept for when the link is back');
      },
    );
  }

  /** Retained messages that could not be put in the bucket since the node joined. */
  get failed(): number {
    return this.failedPuts;
  }

  close(): void {
    this.watch.stop();
    clearTimeout(this.retryTimer);
  }

  private apply(entry: KvEntry): void {
    if (entry.operation !== 'PUT') return;
    const { pool, message } = unpackRetained(entry.value);
    this.target.retainFromBridge(pool, message);
  }
}
