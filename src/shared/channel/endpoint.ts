/**
 * One side of a data-plane channel between the main thread and an actor host:
 * whole batches go across, transferred, never one message per packet.
 * `portEndpoint` wraps a MessagePort (worker hosts); `inlineEndpoints` makes a
 * connected pair inside one thread (hosts on the main thread, `workers: 0`).
 * Runs on both sides: the main thread and every actor host.
 */
import type { MessagePort } from 'node:worker_threads';

export interface BatchEndpoint {
  post(buffer: ArrayBuffer, length: number): void;
  onBatch(handler: (batch: Buffer) => void): void;
  close(): void;
}

interface BatchEnvelope {
  b: ArrayBuffer;
  n: number;
}

export function portEndpoint(port: MessagePort): BatchEndpoint {
  return {
    post(buffer, length) {
      const envelope: BatchEnvelope = { b: buffer, n: length };
      port.postMessage(envelope, [buffer]);
    },
    onBatch(handler) {
      port.on('message', (envelope: BatchEnvelope) => handler(Buffer.from(envelope.b, 0, envelope.n)));
    },
    close() {
      port.close();
    },
  };
}

/**
 * Two endpoints wired to each other on one thread; delivery is deferred to a
 * microtask, never re-entrant. After either side closed nothing more is
 * posted; a batch posted before is still delivered unless its receiver
 * closed, as with a MessagePort (a host's last batch, its goodbyes at
 * shutdown, reaches the main thread).
 */
export function inlineEndpoints(): [BatchEndpoint, BatchEndpoint] {
  const handlers: [((b: Buffer) => void) | undefined, ((b: Buffer) => void) | undefined] = [undefined, undefined];
  const closed = [false, false];
  const make = (self: 0 | 1): BatchEndpoint => {
    const other = self === 0 ? 1 : 0;
    return {
      post(buffer, length) {
        const peer = handlers[other];
        if (closed[self] || closed[other] || !peer) return;
        queueMicrotask(() => {
          if (!closed[other]) peer(Buffer.from(buffer, 0, length));
        });
      },
      onBatch(handler) {
        handlers[self] = handler;
      },
      close() {
        closed[self] = true;
      },
    };
  };
  return [make(0), make(1)];
}
