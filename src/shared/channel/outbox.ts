/**
 * Per-direction batching of data-plane frames: frames are appended during
 * I/O callbacks and flushed once per event-loop turn (setImmediate), or early
 * once the batch passes the configured byte or frame count. Used on every thread.
 */
import { BatchWriter } from './batch-writer.js';
import type { BatchEndpoint } from './endpoint.js';

export interface OutboxLimits {
  batchFlushBytes: number;
  batchFlushFrames: number;
}

/** The batches one direction of a host's channel carried: the mean batch is frames/batches and bytes/batches. */
export interface BatchStats {
  batches: number;
  frames: number;
  bytes: number;
}

export class Outbox {
  readonly writer: BatchWriter;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly flushBound = (): void => this.flush();
  /** Batches posted so far (inbound flow control compares it with the host's credits). */
  posted = 0;
  /** Frames and bytes of the batches posted so far (their mean sizes are watched). */
  postedFrames = 0;
  postedBytes = 0;

  constructor(
    private readonly endpoint: BatchEndpoint,
    private readonly limits: OutboxLimits,
  ) {
    this.writer = new BatchWriter(Math.min(limits.batchFlushBytes, 64 * 1024));
  }

  /** Call after writing one frame into `writer`. */
  commit(): void {
    const w = this.writer;
    w.frames++;
    if (w.length >= this.limits.batchFlushBytes || w.frames >= this.limits.batchFlushFrames) {
      this.flush();
    } else if (this.scheduled === undefined) {
      this.scheduled = setImmediate(this.flushBound);
    }
  }

  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    if (this.writer.length === 0) return;
    this.postedFrames += this.writer.frames;
    const { buffer, length } = this.writer.take();
    this.posted++;
    this.postedBytes += length;
    this.endpoint.post(buffer, length);
  }

  /** What this outbox posted so far. */
  batchStats(): BatchStats {
    return { batches: this.posted, frames: this.postedFrames, bytes: this.postedBytes };
  }

  close(): void {
    this.flush();
    this.endpoint.close();
  }
}
