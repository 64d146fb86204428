/**
 * Growable binary batch of data-plane frames. Its backing ArrayBuffer is not
 * pooled (allocUnsafeSlow), so a full batch can be transferred to another
 * thread without a copy. Used on every thread by an Outbox.
 */
/** Smallest buffer a batch starts with, in bytes. */
const MIN_BATCH_BYTES = 2048;

export class BatchWriter {
  private buf: Buffer;
  private pos = 0;
  frames = 0;

  constructor(private readonly initialSize: number) {
    this.buf = Buffer.allocUnsafeSlow(MIN_BATCH_BYTES);
  }

  get length(): number {
    return this.pos;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buf[this.pos++] = value;
  }

  u32(value: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(value, this.pos);
    this.pos += 4;
  }

  f64(value: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Length-prefixed bytes (u32 length). */
  bytes(data: Uint8Array): void {
    this.reserve(4 + data.byteLength);
    this.buf.writeUInt32LE(data.byteLength, this.pos);
    this.buf.set(data, this.pos + 4);
    this.pos += 4 + data.byteLength;
  }

  /** Length-prefixed UTF-8 string (u32 byte length). */
  str(value: string): void {
    const max = value.length * 3;
    this.reserve(4 + max);
    const n = this.buf.write(value, this.pos + 4, max, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }

  /** Hands out the filled buffer and starts a fresh one. */
  take(): { buffer: ArrayBuffer; length: number } {
    const out = { buffer: this.buf.buffer as ArrayBuffer, length: this.pos };
    // Size the next batch after this one: a fresh transferable buffer per flush is external memory,
    // and allocating the full initial size for small batches makes V8 run full GCs far too often.
    this.buf = Buffer.allocUnsafeSlow(Math.min(this.initialSize, Math.max(MIN_BATCH_BYTES, this.pos * 2)));
    this.pos = 0;
    this.frames = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
