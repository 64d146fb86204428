/**
 * The far side of the batch-transfer micro-benchmark (batch-transfer.bench.ts):
 * reads every frame of a received batch with BatchReader + readToSession, the
 * way an ActorHost does, and answers each batch, either with one tiny ack
 * frame (a u32 frame count, flushed at once) or by echoing every packet back
 * as a `send` frame through an Outbox (flushed by the Outbox's own rules, as
 * a host's outbound batches are). Runs in the bench's worker thread
 * (batch-transfer-worker.ts) or, for the in-thread variant, on the main thread.
 */
import { BatchReader } from '../../src/shared/channel/batch-reader.js';
import type { BatchEndpoint } from '../../src/shared/channel/endpoint.js';
import { Outbox, type OutboxLimits } from '../../src/shared/channel/outbox.js';
import { readToSession, writeSend } from '../../src/shared/channel/frames.js';

/** 'ack': one u32 frame count per batch; 'echo': every packet comes back as a `send` frame. */
export type PeerMode = 'ack' | 'echo';

export function servePeer(endpoint: BatchEndpoint, mode: PeerMode, limits: OutboxLimits): void {
  const outbox = new Outbox(endpoint, limits);
  endpoint.onBatch((batch) => {
    const reader = new BatchReader(batch);
    let frames = 0;
    while (!reader.done) {
      const msg = readToSession(reader);
      if (msg.kind !== 'packet') throw new Error(`transfer peer: unexpected ${msg.kind} frame`);
      frames++;
      if (mode === 'echo') {
        writeSend(outbox.writer, msg.connId, msg.packet);
        outbox.commit();
      } else if (msg.packet.length === 0) {
        throw new Error('transfer peer: empty packet');
      }
    }
    if (mode === 'ack') {
      outbox.writer.u32(frames);
      outbox.commit();
      outbox.flush();
    }
  });
}
