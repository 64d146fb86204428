/**
 * Micro-benchmarks for the main↔actor-host batch transfer (src/channel/*):
 * per iteration the main thread writes 256 frames, each a 16 B-payload QoS 1
 * PUBLISH (`sensor/123/temp`, 37 B on the wire) framed by `writePacket`, into
 * an Outbox whose 256-frame limit posts the batch at the 256th commit; the far
 * side (transfer-peer.ts) reads every frame with BatchReader + readToSession
 * and answers, and the iteration ends when the answer has been read on the
 * main thread. So one sample is one whole batch round trip, and msgs/s and
 * µs/msg count its 256 messages (round-trip latency included: this is a
 * one-batch-in-flight figure, not a pipelined maximum).
 *
 * Variants: the far side in a real worker_threads Worker over a real
 * MessageChannel port, transferred (portEndpoint on both sides, batches
 * transferred, not copied), or on the main thread over `inlineEndpoints`
 * (the `workers: 0` path, delivery deferred by a microtask); and the answer
 * either one ack frame per batch, or all 256 packets echoed back as `send`
 * frames and decoded with readToRouter (both directions of the data plane).
 * Inputs are 1024 distinct packets, cycled, built at registration. The
 * worker starts before a task's warm-up and is terminated after its run.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import mqttPacket from 'mqtt-packet';
import type { Bench } from 'tinybench';
import { BatchReader } from '../../src/shared/channel/batch-reader.js';
import { inlineEndpoints, portEndpoint, type BatchEndpoint } from '../../src/shared/channel/endpoint.js';
import { Outbox, type OutboxLimits } from '../../src/shared/channel/outbox.js';
import { defaultConfig } from '../../src/api/config-schema.js';
import { readToRouter, writePacket } from '../../src/shared/channel/frames.js';
import type { TransferWorkerData } from './batch-transfer-worker.js';
import { itemsPerIteration, onCleanup } from './task-info.js';
import { servePeer, type PeerMode } from './transfer-peer.js';

const INPUTS = 1024;
const CONN_ID = 7;
const WORKER_ENTRY = new URL('./batch-transfer-worker.js', import.meta.url);

/** The broker's own flush limits (64 KiB or 256 frames). */
function brokerLimits(): OutboxLimits {
  const { batchFlushBytes, batchFlushFrames } = defaultConfig();
  return { batchFlushBytes, batchFlushFrames };
}

function packetFor(i: number): Buffer {
  const payload = Buffer.alloc(16);
  payload.writeUInt32BE(i, 0);
  payload.writeDoubleBE(i * 0.25, 8);
  return mqttPacket.generate({
    cmd: 'publish',
    topic: 'sensor/123/temp',
    payload,
    qos: 1,
    retain: false,
    dup: false,
    messageId: (i % 65535) + 1,
  });
}

/** The main thread's side: writes one batch per round trip and reads the answer. */
class Driver {
  private readonly outbox: Outbox;
  private next = 0;
  private received = 0;
  private target = 0;
  private resolve: (() => void) | undefined;
  private reject: ((err: Error) => void) | undefined;

  constructor(
    private readonly endpoint: BatchEndpoint,
    private readonly mode: PeerMode,
    private readonly packets: readonly Buffer[],
    private readonly frames: number,
    limits: OutboxLimits,
  ) {
    this.outbox = new Outbox(endpoint, limits);
    endpoint.onBatch((batch) => this.onBatch(batch));
  }

  roundTrip(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.target = this.received + this.frames;
    const { outbox, packets } = this;
    for (let i = 0; i < this.frames; i++) {
      writePacket(outbox.writer, CONN_ID, packets[this.next++ & (INPUTS - 1)] as Buffer);
      outbox.commit(); // the 256th commit posts the batch
    }
    return done;
  }

  fail(err: Error): void {
    this.reject?.(err);
    this.resolve = this.reject = undefined;
  }

  close(): void {
    this.endpoint.close();
  }

  private onBatch(batch: Buffer): void {
    const reader = new BatchReader(batch);
    if (this.mode === 'ack') {
      while (!reader.done) this.received += reader.u32();
    } else {
      while (!reader.done) {
        const msg = readToRouter(reader);
        if (msg.kind !== 'send' || msg.connId !== CONN_ID || msg.bytes.length === 0) {
          this.fail(new Error(`batch-transfer: unexpected ${msg.kind} frame`));
          return;
        }
        this.received++;
      }
    }
    if (this.received >= this.target && this.resolve) {
      const resolve = this.resolve;
      this.resolve = this.reject = undefined;
      resolve();
    }
  }
}

interface Rig {
  driver: Driver;
  stop(): Promise<void>;
}

async function workerRig(mode: PeerMode, packets: readonly Buffer[], limits: OutboxLimits): Promise<Rig> {
  const channel = new MessageChannel();
  const data: TransferWorkerData = { port: channel.port2, mode, limits };
  const worker = new Worker(WORKER_ENTRY, { workerData: data, transferList: [channel.port2] });
  await new Promise<void>((resolve, reject) => {
    worker.once('online', resolve);
    worker.once('error', reject);
  });
  const driver = new Driver(portEndpoint(channel.port1), mode, packets, limits.batchFlushFrames, limits);
  worker.on('error', (err) => driver.fail(err));
  return {
    driver,
    async stop() {
      driver.close();
      await worker.terminate();
    },
  };
}

async function inlineRig(mode: PeerMode, packets: readonly Buffer[], limits: OutboxLimits): Promise<Rig> {
  const [mainSide, peerSide] = inlineEndpoints();
  servePeer(peerSide, mode, limits);
  const driver = new Driver(mainSide, mode, packets, limits.batchFlushFrames, limits);
  return {
    driver,
    async stop() {
      driver.close();
    },
  };
}

export async function register(bench: Bench): Promise<void> {
  const limits = brokerLimits();
  const frames = limits.batchFlushFrames;
  const packets = Array.from({ length: INPUTS }, (_, i) => packetFor(i));

  const variants: Array<[string, PeerMode, typeof workerRig]> = [
    [`batch-transfer: worker, ${frames} frames → ack`, 'ack', workerRig],
    [`batch-transfer: worker, ${frames} frames → ${frames} send frames back`, 'echo', workerRig],
    [`batch-transfer: inline, ${frames} frames → ack`, 'ack', inlineRig],
    [`batch-transfer: inline, ${frames} frames → ${frames} send frames back`, 'echo', inlineRig],
  ];
  for (const [name, mode, makeRig] of variants) {
    let rig: Rig | undefined;
    let unregister: (() => void) | undefined;
    const stop = async (): Promise<void> => {
      const r = rig;
      rig = undefined;
      unregister?.();
      await r?.stop();
    };
    bench.add(name, () => (rig as Rig).driver.roundTrip(), {
      async: true,
      // Started for the warm-up, kept for the run, stopped after it (or by run.ts's clean-up if a phase failed).
      beforeAll: async () => {
        if (rig) return;
        rig = await makeRig(mode, packets, limits);
        unregister = onCleanup(stop);
      },
      afterAll: async (phase) => {
        if (phase === 'run') await stop();
      },
    });
    itemsPerIteration(name, frames, 'msg');
  }
}
