/**
 * Splits a TCP byte stream into whole MQTT control packets (fixed header and
 * body), enforcing the Maximum Packet Size from the fixed header alone, before
 * any of the body is buffered. One Framer per connection; main thread.
 */
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';

/**
 * Reads the Remaining Length varint at `offset` (spec 1.5.5 / 2.2.3).
 * Returns undefined when the bytes before `end` stop before the varint does;
 * throws a MalformedPacket ProtocolError when it runs past 4 bytes.
 */
export function readRemainingLength(
  buf: Uint8Array,
  offset: number,
  end: number = buf.length,
): { value: number; bytes: number } | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const pos = offset + i;
    if (pos >= end) return undefined;
    const byte = buf[pos]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 };
    multiplier *= 128;
  }
  throw new ProtocolError(ReasonCode.MalformedPacket, 'remaining length longer than 4 bytes');
}

/**
 * The length of the fixed header of the whole packet `packet`: its type byte
 * and its Remaining Length varint, i.e. the offset of the variable header.
 * Allocates nothing; for packets the Framer already cut.
 */
export function fixedHeaderLength(packet: Uint8Array): number {
  let i = 1;
  while (i < 5 && (packet[i]! & 0x80) !== 0) i++;
  return i + 1;
}

export class Framer {
  private packetSizeLimit: number;
  private readonly onPacket: (packet: Buffer) => void;
  /** Fixed header bytes (at most 5) of a packet whose header spans chunks. */
  private readonly head = Buffer.allocUnsafe(5);
  private headLength = 0;
  /** Exact-size buffer of a packet whose header is known but whose body spans chunks. */
  private partial: Buffer | undefined;
  private filled = 0;

  constructor(maxPacketSize: number, onPacket: (packet: Buffer) => void) {
    this.packetSizeLimit = maxPacketSize;
    this.onPacket = onPacket;
  }

  get maxPacketSize(): number {
    return this.packetSizeLimit;
  }

  set maxPacketSize(value: number) {
    this.packetSizeLimit = value;
  }

  /**
   * Feeds one chunk; calls onPacket once per completed packet, in order. A packet
   * lying wholly within `chunk` is passed as a subarray of it (no copy).
   */
  push(chunk: Buffer): void {
    let offset = this.partial !== undefined || this.headLength > 0 ? this.continue(chunk) : 0;
    const length = chunk.length;
    while (offset < length) {
      const size = this.packetSize(chunk, offset);
      if (size < 0) {
        chunk.copy(this.head, 0, offset);
        this.headLength = length - offset;
        return;
      }
      const end = offset + size;
      if (end > length) {
        this.partial = Buffer.allocUnsafe(size);
        this.filled = chunk.copy(this.partial, 0, offset);
        return;
      }
      const start = offset;
      offset = end;
      this.onPacket(chunk.subarray(start, end));
    }
  }

  /** Continues the packet carried over from earlier chunks; returns the offset it consumed up to. */
  private continue(chunk: Buffer): number {
    let offset = 0;
    if (this.partial === undefined) {
      let size = -1;
      while (size < 0) {
        if (offset === chunk.length) return offset;
        this.head[this.headLength++] = chunk[offset++]!;
        size = this.packetSize(this.head.subarray(0, this.headLength), 0);
      }
      this.partial = Buffer.allocUnsafe(size);
      this.filled = this.head.copy(this.partial, 0, 0, this.headLength);
      this.headLength = 0;
    }
    const partial = this.partial;
    const take = Math.min(partial.length - this.filled, chunk.length - offset);
    chunk.copy(partial, this.filled, offset, offset + take);
    this.filled += take;
    offset += take;
    if (this.filled === partial.length) {
      this.partial = undefined;
      this.onPacket(partial);
    }
    return offset;
  }

  /** Total size of the packet starting at `offset`, or -1 when its fixed header is incomplete. */
  private packetSize(buf: Buffer, offset: number): number {
    const remaining = readRemainingLength(buf, offset + 1);
    if (remaining === undefined) return -1;
    const size = 1 + remaining.bytes + remaining.value;
    if (size > this.packetSizeLimit) {
      throw new ProtocolError(
        ReasonCode.PacketTooLarge,
        `packet of ${size} bytes exceeds the maximum packet size of ${this.packetSizeLimit}`,
      );
    }
    return size;
  }
}
