/**
 * One side of a data-plane channel between the main thread and an actor host:
 * whole batches go across, transferred, never one message per packet.
 * `portEndpoint` wraps a MessagePort (worker hosts); `inlineEndpoints` makes a
 * connected pair inside one thread (hosts on the main thread, `workers: 0`).
 */
import type { MessagePort } from 'node:worker_threads';

export interface BatchEndpoint {
  post(buffer: ArrayBuffer, length: number): void;
  onBatch(handler: (batch: Buffer) => void): void;
  close(): void;
}

interface BatchEnvelope { b: ArrayBuffer; n: number }

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

/** Two endpoints wired to each other on one thread; delivery is deferred to a microtask, never re-entrant. */
export function inlineEndpoints(): [BatchEndpoint, BatchEndpoint] {
  const handlers: [((b: Buffer) => void) | undefined, ((b: Buffer) => void) | undefined] = [undefined, undefined];
  let open = true;
  const make = (self: 0 | 1): BatchEndpoint => ({
    post(buffer, length) {
      const peer = handlers[self === 0 ? 1 : 0];
      if (!open || !peer) return;
      queueMicrotask(() => { if (open) peer(Buffer.from(buffer, 0, length)); });
    },
    onBatch(handler) {
      handlers[self] = handler;
    },
    close() {
      open = false;
    },
  });
  return [make(0), make(1)];
}
