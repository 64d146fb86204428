/**
 * Retained messages cluster-wide: a key-value bucket (`{prefix}-retained`,
 * one entry per pool and topic, history 1) holds the latest retained
 * message of every topic, an empty payload for a cleared one. A node puts
 * the retained messages routed on it there, and applies every entry it
 * watches, its own included, to its local retained store in the bucket's
 * order, so every node ends with the same message per topic. A node
 * joining (or coming back) reads the whole bucket before it serves. Main
 * thread.
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

export class ClusterRetained {
  private readonly watch: BucketWatch;
  private failedPuts = 0;

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
    this.watch.stop();
  }

  private apply(entry: KvEntry): void {
    if (entry.operation !== 'PUT') return;
    const { pool, message } = unpackRetained(entry.value);
    this.target.retainFromBridge(pool, message);
  }
}
