/**
 * Byte-level helpers for the hostile-input tests: packets built by hand (of
 * the codec under test, only its Remaining Length encoder is used), a raw
 * socket that records every byte the server sends, and a hand splitter of
 * the server's byte stream into frames.
 * Every wait is bounded.
 */
import net from 'node:net';
import { varintSize, writeVarint } from '../../src/shared/codec/publish.js';

export type V = 4 | 5;

/** Remaining Length varint of `n`. */
export function varint(n: number): number[] {
  const out = Buffer.alloc(varintSize(n));
  writeVarint(out, 0, n);
  return [...out];
}

/** A whole packet: first byte, Remaining Length of `body`, `body`. */
export function pkt(first: number, body: number[]): Buffer {
  return Buffer.from([first, ...varint(body.length), ...body]);
}

/** A UTF-8 string field (2-byte length + bytes); `raw` bytes are used as they are. */
export function str(s: string | number[]): number[] {
  const bytes = typeof s === 'string' ? [...Buffer.from(s)] : s;
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** 5.0: a property section of `content`; 3.1.1: nothing. */
export function props(v: V, content: number[] = []): number[] {
  return v === 5 ? [...varint(content.length), ...content] : [];
}

/** A CONNECT (clean start, keepalive 0) for `clientId`; `extra` patches the flags and appends payload fields. */
export function connectPacket(
  v: V,
  clientId: string | number[],
  opts: { flags?: number; connectProps?: number[]; tail?: number[] } = {},
): Buffer {
  const flags = opts.flags ?? 0x02;
  return pkt(0x10, [...str('MQTT'), v, flags, 0, 0, ...props(v, opts.connectProps ?? []), ...str(clientId), ...(opts.tail ?? [])]);
}

export interface Frame {
  first: number;
  body: Buffer;
}

/** Splits `bytes` into whole frames (a trailing partial frame is returned as `rest`). */
export function frames(bytes: Buffer): { frames: Frame[]; rest: number } {
  const out: Frame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let len = 0,
      mul = 1,
      i = pos + 1,
      done = false;
    for (; i < bytes.length && i < pos + 5; i++) {
      const b = bytes[i] as number;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        done = true;
        i++;
        break;
      }
    }
    if (!done || i + len > bytes.length) break;
    out.push({ first: bytes[pos] as number, body: bytes.subarray(i, i + len) });
    pos = i + len;
  }
  return { frames: out, rest: bytes.length - pos };
}

export function hex(bytes: Buffer | number[]): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ').trim();
}

let counter = 0;
export function rid(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** A raw TCP connection that records what the server sends and when it closes. */
export class Wire {
  private chunks: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number, timeoutMs = 3_000): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('TCP connect timed out'));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new Wire(socket));
      });
    });
  }

  get bytes(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `cond` holds (checked on every byte arrival and on close); rejects after `timeoutMs`. */
  until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
          return;
        }
        this.waiters.push(check);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(
          new Error(`${what} not within ${timeoutMs} ms; server sent: ${hex(this.bytes)}${this.closed ? ' (closed)' : ' (still open)'}`),
        );
      }, timeoutMs);
      check();
    });
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends a hand-built CONNECT and checks for a CONNACK with code 0; returns the byte offset after it. */
  async handshake(v: V, clientId = rid(`h${v}`)): Promise<number> {
    this.send(connectPacket(v, clientId));
    await this.until(() => frames(this.bytes).frames.length > 0 || this.closed, 3_000, 'CONNACK');
    const f = frames(this.bytes).frames[0];
    if (!f || f.first !== 0x20 || f.body[1] !== 0) throw new Error(`CONNECT not accepted: ${hex(this.bytes)}`);
    return 1 + varint(f.body.length).length + f.body.length;
  }

  closedWithin(timeoutMs: number): Promise<void> {
    return this.until(() => this.closed, timeoutMs, 'server close');
  }

  destroy(): void {
    this.socket.destroy();
  }
}
