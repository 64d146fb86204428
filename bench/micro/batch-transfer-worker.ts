/**
 * Worker-thread entry of the batch-transfer micro-benchmark
 * (batch-transfer.bench.ts): serves the transferred MessagePort from
 * `workerData` with servePeer until the main thread terminates the worker.
 * Runs in a worker_threads Worker started from dist/bench/micro/.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { portEndpoint } from '../../src/shared/channel/endpoint.js';
import type { OutboxLimits } from '../../src/shared/channel/outbox.js';
import { servePeer, type PeerMode } from './transfer-peer.js';

export interface TransferWorkerData {
  port: MessagePort;
  mode: PeerMode;
  limits: OutboxLimits;
}

const data = workerData as TransferWorkerData;
servePeer(portEndpoint(data.port), data.mode, data.limits);
