/**
 * A minimal MQTT 3.1.1 load client over `node:net`, for the load generator
 * process (bench/load/generator.ts). Many instances share one event loop, so
 * the hot paths avoid per-message allocation: PUBLISH packets are encoded once
 * into templates and written as pre-built batches; reads land in one shared
 * buffer (`onread`, no Buffer or 'data' event per read), and the receive path
 * frames bytes by fixed header and remaining length, counts PUBLISH and PUBACK
 * packets, and answers QoS 1 PUBLISH with hand-encoded PUBACKs, one write per
 * received chunk. CONNECT and SUBSCRIBE go through mqtt-packet (cold path).
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { varintSize, writeVarint } from '../../src/shared/codec/publish.js';
import { readRemainingLength } from '../../src/shared/codec/framer.js';

/** A PUBLISH packet encoded once, with the offsets a sender patches per copy. */
export interface PublishTemplate {
  bytes: Buffer;
  /** Offset of the 2-byte packet identifier; -1 for QoS 0. */
  packetIdOffset: number;
  payloadOffset: number;
}

/** Encodes an MQTT 3.1.1 PUBLISH by hand (fixed header, topic, packet id, payload). */
export function encodePublish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): PublishTemplate {
  const topicBytes = Buffer.from(topic, 'utf8');
  const remaining = 2 + topicBytes.length + (qos > 0 ? 2 : 0) + payload.length;
  const bytes = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  bytes[0] = 0x30 | (qos << 1) | (retain ? 1 : 0);
  let at = writeVarint(bytes, 1, remaining);
  bytes.writeUInt16BE(topicBytes.length, at);
  at += 2;
  topicBytes.copy(bytes, at);
  at += topicBytes.length;
  const packetIdOffset = qos > 0 ? at : -1;
  if (qos > 0) {
    bytes.writeUInt16BE(1, at);
    at += 2;
  }
  payload.copy(bytes, at);
  return { bytes, packetIdOffset, payloadOffset: at };
}

/** Called for each PUBLISH received: the buffer holding it, its first byte, and the payload bounds. */
export type PublishHandler = (buf: Buffer, header: number, payloadStart: number, payloadEnd: number) => void;

export interface ClientOptions {
  host: string;
  port: number;
  clientId: string;
  /** CONNECT's Clean Session flag; false opens a persistent session (default true). */
  clean?: boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** How long CONNACK, SUBACK and PINGRESP may take before the wait fails. */
const CONTROL_TIMEOUT_MS = 30_000;

/**
 * A one-shot wait for a control reply: settles once, clears its timeout
 * (which also keeps the event loop alive while the reply is pending).
 */
function waiter(what: string, resolve: () => void, reject: (err: Error) => void): Waiter {
  let settled = false;
  const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${CONTROL_TIMEOUT_MS / 1000} s`))), CONTROL_TIMEOUT_MS);
  const finish = (fn: () => void): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    fn();
  };
  return { resolve: () => finish(resolve), reject: (err) => finish(() => reject(err)) };
}

/**
 * Every socket of the process reads into this one buffer: reads are handled
 * synchronously, and a partial packet left at the end is copied out.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const PINGREQ = Buffer.from([0xc0, 0x00]);
/** Keep-alive sent in CONNECT, in seconds: 60 is the highest some brokers grant (Shoal's default maxKeepalive). */
const KEEPALIVE_S = 60;

/**
 * Every connected client sends a PINGREQ each half keep-alive, so a client
 * that only receives (a subscriber through a long scenario) is never timed
 * out by the broker. One timer for the process; it does not keep it alive.
 */
const live = new Set<LoadClient>();
setInterval(
  () => {
    for (const client of live) client.write(PINGREQ);
  },
  (KEEPALIVE_S * 1000) / 2,
).unref();

export class LoadClient {
  /** PUBLISH packets received. */
  received = 0;
  /** PUBACK packets received (acknowledgements of this client's QoS 1 publishes). */
  acked = 0;
  /** True while the socket's write buffer is over its high-water mark (write() returned false). */
  blocked = false;
  closed = false;
  onPublish: PublishHandler | null = null;
  /** Called after each received chunk has been framed, with the counters updated. */
  onChunk: (() => void) | null = null;
  /** Called when a blocked socket drains. */
  onDrain: (() => void) | null = null;

  private readonly socket: net.Socket;
  private pending: Buffer | null = null;
  private connack: Waiter | null = null;
  private suback: Waiter | null = null;
  private pingresp: Waiter | null = null;
  private error: Error | null = null;
  private nextSubscribeId = 1;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('drain', () => {
      this.blocked = false;
      this.onDrain?.();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => this.onClose());
  }

  /** Opens a TCP connection, sends CONNECT (a clean session unless `opts.clean` is false) and resolves on a successful CONNACK. */
  static connect(opts: ClientOptions): Promise<LoadClient> {
    return new Promise((resolve, reject) => {
      let client: LoadClient | null = null;
      const socket = net.connect({
        host: opts.host,
        port: opts.port,
        onread: {
          buffer: READ_BUFFER,
          callback: (nread: number) => {
            client?.onBytes(nread);
            return true;
          },
        },
      });
      client = new LoadClient(socket);
      const self = client;
      self.connack = waiter(
        'CONNACK',
        () => {
          live.add(self);
          resolve(self);
        },
        reject,
      );
      socket.once('connect', () => {
        socket.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clean: opts.clean ?? true,
            clientId: opts.clientId,
            keepalive: KEEPALIVE_S,
          }),
        );
      });
    });
  }

  /** Subscribes to one filter and resolves on a SUBACK that grants it. */
  subscribe(filter: string, qos: 0 | 1): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('subscribe on a closed connection'));
      this.suback = waiter('SUBACK', resolve, reject);
      const messageId = this.nextSubscribeId++;
      this.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }] }));
    });
  }

  /** Round trip through the broker: resolves when the PINGRESP arrives. */
  ping(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('ping on a closed connection'));
      this.pingresp = waiter('PINGRESP', resolve, reject);
      this.socket.write(PINGREQ);
    });
  }

  /** Writes raw packet bytes; returns false (and sets `blocked`) when the caller should wait for drain. */
  write(bytes: Buffer): boolean {
    const ok = this.socket.write(bytes);
    if (!ok) this.blocked = true;
    return ok;
  }

  /** Stops reading from the socket (a subscriber that no longer keeps up). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    live.delete(this);
    const err = this.error ?? new Error('connection closed');
    for (const waiter of [this.connack, this.suback, this.pingresp]) waiter?.reject(err);
    this.connack = this.suback = this.pingresp = null;
  }

  /** Frames the `nread` bytes just read into READ_BUFFER, after any partial packet kept from before. */
  private onBytes(nread: number): void {
    let buf = READ_BUFFER;
    let end = nread;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, READ_BUFFER.subarray(0, nread)]);
      end = buf.length;
      this.pending = null;
    }
    let at = 0;
    let pubacks: number[] | null = null;
    while (at < end) {
      // Fixed header: one type/flags byte, then a 1-4 byte variable-length integer.
      if (end - at < 2) break;
      const header = buf[at] as number;
      const remaining = readRemainingLength(buf, at + 1, end);
      if (remaining === undefined) break;
      const length = remaining.value;
      const p = at + 1 + remaining.bytes;
      if (p + length > end) break;
      const bodyEnd = p + length;
      const type = header >> 4;
      if (type === 3) {
        this.received++;
        const topicLength = ((buf[p] as number) << 8) | (buf[p + 1] as number);
        let payloadStart = p + 2 + topicLength;
        if ((header & 0x06) !== 0) {
          (pubacks ??= []).push(((buf[payloadStart] as number) << 8) | (buf[payloadStart + 1] as number));
          payloadStart += 2;
        }
        if (this.onPublish !== null) this.onPublish(buf, header, payloadStart, bodyEnd);
      } else if (type === 4) {
        this.acked++;
      } else {
        this.onControlPacket(type, buf, p, bodyEnd);
      }
      at = bodyEnd;
    }
    if (at < end) this.pending = Buffer.from(buf.subarray(at, end));
    if (pubacks !== null) this.writePubacks(pubacks);
    this.onChunk?.();
  }

  private writePubacks(ids: number[]): void {
    const out = Buffer.allocUnsafe(ids.length * 4);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const o = i * 4;
      out[o] = 0x40;
      out[o + 1] = 0x02;
      out[o + 2] = id >> 8;
      out[o + 3] = id & 0xff;
    }
    this.write(out);
  }

  private onControlPacket(type: number, buf: Buffer, bodyStart: number, bodyEnd: number): void {
    if (type === 2) {
      const waiter = this.connack;
      this.connack = null;
      const code = buf[bodyStart + 1];
      if (code === 0) waiter?.resolve();
      else {
        waiter?.reject(new Error(`CONNACK return code ${String(code)}`));
        this.socket.destroy();
      }
    } else if (type === 9) {
      const waiter = this.suback;
      this.suback = null;
      const granted = buf[bodyEnd - 1];
      if (granted === 0x80) waiter?.reject(new Error('SUBACK refused the subscription'));
      else waiter?.resolve();
    } else if (type === 13) {
      const waiter = this.pingresp;
      this.pingresp = null;
      waiter?.resolve();
    }
  }
}

/**
 * Connects `count` clients with at most `concurrency` handshakes pending at a time.
 * Failed handshakes are counted, not retried; `onProgress` sees the running totals.
 */
export async function connectMany(
  count: number,
  concurrency: number,
  options: (index: number) => ClientOptions,
  onProgress?: (connected: number, failed: number) => void,
): Promise<{ clients: LoadClient[]; failed: number; errors: string[] }> {
  const clients: LoadClient[] = [];
  const errors = new Set<string>();
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      try {
        clients.push(await LoadClient.connect(options(index)));
      } catch (err) {
        failed++;
        errors.add((err as Error).message);
      }
      onProgress?.(clients.length, failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { clients, failed, errors: [...errors].slice(0, 5) };
}
