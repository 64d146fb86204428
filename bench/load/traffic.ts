/**
 * Publishing patterns for the load generator process: where PUBLISH bytes come
 * from (sources) and when they are written (pumps). Sources build one batch of
 * n packets per write, so a client costs one write() per batch. Pumps:
 * paced (a fixed offered rate), flat out (as fast as socket backpressure
 * allows), windowed (bounded QoS 1 in-flight per publisher) and gated (one
 * publisher held to a window of undelivered fan-out copies).
 */
import { performance } from 'node:perf_hooks';
import type { LoadClient, PublishTemplate } from './client.js';

/** Most packets a pump puts in one write to one client. */
export const MAX_BATCH = 256;

/** Produces n consecutive PUBLISH packets of one client as a single buffer. */
export interface Source {
  batch(n: number): Buffer;
}

/** Identical QoS 0 packets: batches are zero-copy views of one pre-built burst. */
export class RepeatSource implements Source {
  private readonly burst: Buffer;
  private readonly size: number;

  constructor(template: PublishTemplate) {
    this.size = template.bytes.length;
    this.burst = Buffer.allocUnsafe(this.size * MAX_BATCH);
    for (let i = 0; i < MAX_BATCH; i++) template.bytes.copy(this.burst, i * this.size);
  }

  batch(n: number): Buffer {
    if (n <= MAX_BATCH) return this.burst.subarray(0, n * this.size);
    return Buffer.concat(Array.from({ length: Math.ceil(n / MAX_BATCH) }, () => this.burst)).subarray(0, n * this.size);
  }
}

/**
 * Packets copied from a template with a fresh packet identifier each (QoS 1)
 * and the send time (performance.now(), float64 LE) in the first 8 payload bytes.
 */
export class StampedSource implements Source {
  private nextId = 1;

  constructor(private readonly template: PublishTemplate) {}

  batch(n: number): Buffer {
    const { bytes, packetIdOffset, payloadOffset } = this.template;
    const size = bytes.length;
    const out = Buffer.allocUnsafe(n * size);
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const base = i * size;
      bytes.copy(out, base);
      if (packetIdOffset >= 0) {
        out.writeUInt16BE(this.nextId, base + packetIdOffset);
        this.nextId = this.nextId === 0xffff ? 1 : this.nextId + 1;
      }
      out.writeDoubleLE(now, base + payloadOffset);
    }
    return out;
  }
}

export function totalReceived(clients: readonly LoadClient[]): number {
  let total = 0;
  for (const c of clients) total += c.received;
  return total;
}

export function totalAcked(clients: readonly LoadClient[]): number {
  let total = 0;
  for (const c of clients) total += c.acked;
  return total;
}

/**
 * Offers `rate` msgs/s in total, spread round-robin over the clients: every
 * `tickMs` it writes what has fallen due since the start, so a longer tick
 * means fewer, larger writes per client. A client whose socket is blocked
 * skips its share: `skipped` counts messages offered but not written, which
 * means the broker is not keeping up.
 */
export class PacedPump {
  offered = 0;
  sent = 0;
  skipped = 0;
  private cursor = 0;
  private t0 = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly clients: readonly LoadClient[],
    private readonly sources: readonly Source[],
    private readonly rate: number,
    private readonly tickMs: number,
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const due = Math.floor((this.rate * (performance.now() - this.t0)) / 1000);
    const n = due - this.offered;
    if (n <= 0) return;
    this.offered = due;
    const count = this.clients.length;
    const each = Math.floor(n / count);
    const extra = n % count;
    for (let j = 0; j < count; j++) {
      const i = (this.cursor + j) % count;
      const k = each + (j < extra ? 1 : 0);
      if (k === 0) continue;
      const client = this.clients[i] as LoadClient;
      if (client.blocked || client.closed) {
        this.skipped += k;
        continue;
      }
      client.write((this.sources[i] as Source).batch(k));
      this.sent += k;
    }
    this.cursor = (this.cursor + extra) % count;
  }
}

/**
 * Writes a batch to every unblocked client once per event-loop turn, and
 * parks until a 'drain' when all are blocked, so client memory stays bounded
 * by the sockets' high-water marks.
 */
export class FlatOutPump {
  sent = 0;
  private running = false;
  private scheduled = false;

  constructor(
    private readonly clients: readonly LoadClient[],
    private readonly sources: readonly Source[],
    private readonly batchSize: number,
  ) {}

  start(): void {
    this.running = true;
    for (const c of this.clients) c.onDrain = () => this.schedule();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    for (const c of this.clients) c.onDrain = null;
  }

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    if (!this.running) return;
    let wrote = false;
    for (let i = 0; i < this.clients.length; i++) {
      const client = this.clients[i] as LoadClient;
      if (client.blocked || client.closed) continue;
      client.write((this.sources[i] as Source).batch(this.batchSize));
      this.sent += this.batchSize;
      wrote = true;
    }
    if (wrote) this.schedule();
  }
}

/**
 * QoS 1 flat out: each publisher keeps up to `window` unacknowledged PUBLISH
 * packets outstanding and tops up after every received chunk of PUBACKs.
 */
export class WindowedPump {
  private readonly sentBy: number[];
  private running = false;

  constructor(
    private readonly clients: readonly LoadClient[],
    private readonly sources: readonly Source[],
    private readonly window: number,
  ) {
    this.sentBy = clients.map((c) => c.acked);
  }

  get sent(): number {
    let total = 0;
    for (const s of this.sentBy) total += s;
    return total;
  }

  start(): void {
    this.running = true;
    this.clients.forEach((client, i) => {
      client.onChunk = client.onDrain = () => this.refill(i);
      this.refill(i);
    });
  }

  stop(): void {
    this.running = false;
    for (const c of this.clients) c.onChunk = c.onDrain = null;
  }

  private refill(i: number): void {
    const client = this.clients[i] as LoadClient;
    if (!this.running || client.blocked || client.closed) return;
    const room = this.window - ((this.sentBy[i] as number) - client.acked);
    if (room <= 0) return;
    client.write((this.sources[i] as Source).batch(room));
    this.sentBy[i] = (this.sentBy[i] as number) + room;
  }
}

/** How long a gated pump waits without any delivery before writing off the outstanding copies as lost. */
const GATE_STALL_MS = 250;

/**
 * One publisher, many subscribers of the same topic: the publisher stays at
 * most `window` messages ahead of the deliveries (counted as copies ÷
 * `fanout`). If deliveries stop for GATE_STALL_MS while the window is full
 * (the broker dropped QoS 0 copies), the outstanding copies count as lost.
 * It takes over the subscribers' onPublish and onChunk hooks while running.
 */
export class GatedPump {
  sent = 0;
  /** Copies delivered to the subscribers since start(). */
  delivered = 0;
  /** Messages whose missing copies were written off after a stall. */
  lostCredit = 0;
  stalls = 0;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private lastDelivered = -1;

  constructor(
    private readonly publisher: LoadClient,
    private readonly source: Source,
    private readonly subscribers: readonly LoadClient[],
    private readonly window: number,
  ) {}

  start(): void {
    this.running = true;
    const count = (): void => {
      this.delivered++;
    };
    const check = (): void => this.refill();
    for (const s of this.subscribers) {
      s.onPublish = count;
      s.onChunk = check;
    }
    this.publisher.onDrain = check;
    this.timer = setInterval(() => this.checkStall(), GATE_STALL_MS);
    this.refill();
  }

  stop(): void {
    this.running = false;
    for (const s of this.subscribers) s.onPublish = s.onChunk = null;
    this.publisher.onDrain = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private outstanding(): number {
    return this.sent - this.lostCredit - this.delivered / this.subscribers.length;
  }

  private refill(): void {
    if (!this.running || this.publisher.blocked || this.publisher.closed) return;
    const room = Math.floor(this.window - this.outstanding());
    if (room <= 0) return;
    const n = Math.min(room, MAX_BATCH);
    this.publisher.write(this.source.batch(n));
    this.sent += n;
  }

  private checkStall(): void {
    if (this.delivered === this.lastDelivered && this.outstanding() >= this.window) {
      this.lostCredit = this.sent - this.delivered / this.subscribers.length;
      this.stalls++;
      this.refill();
    }
    this.lastDelivered = this.delivered;
  }
}
