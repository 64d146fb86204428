/**
 * Sequential reader over one received data-plane batch. `bytes()` returns
 * views into the batch (no copy): whoever keeps one beyond the batch's
 * handling must copy it. Used on every thread.
 */
export class BatchReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  u8(): number {
    return this.buf[this.pos++] as number;
  }

  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(): Buffer {
    const n = this.u32();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  str(): string {
    const n = this.u32();
    const out = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
