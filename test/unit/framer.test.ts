/**
 * Unit tests for the stream framer (src/shared/codec/framer.ts): packet boundaries at
 * every split point, zero-copy delivery within a chunk, and the early
 * PacketTooLarge / MalformedPacket checks on the fixed header.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { Framer, readRemainingLength } from '../../src/shared/codec/framer.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { seededRandom } from '../helpers/random.js';

function isProtocolError(code: number) {
  return (error: unknown) => error instanceof ProtocolError && error.reasonCode === code;
}

function publish(payloadSize: number, messageId = 1): Buffer {
  return mqttPacket.generate({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.alloc(payloadSize, 7),
    qos: 1,
    messageId,
    retain: false,
    dup: false,
  });
}

/** A stream mixing 2-byte packets, 1-, 2- and 3-byte remaining lengths. */
const packets = [
  mqttPacket.generate({ cmd: 'pingreq' }),
  publish(10, 1),
  publish(200, 2),
  mqttPacket.generate({ cmd: 'puback', messageId: 3 }),
  publish(20_000, 4),
  publish(0, 5),
];
const stream = Buffer.concat(packets);

function collect(maxPacketSize = 1 << 20): { framer: Framer; out: Buffer[] } {
  const out: Buffer[] = [];
  return { framer: new Framer(maxPacketSize, (packet) => out.push(packet)), out };
}

describe('readRemainingLength', () => {
  it('reads 1- to 4-byte varints', () => {
    assert.deepEqual(readRemainingLength(Buffer.from([0x00]), 0), { value: 0, bytes: 1 });
    assert.deepEqual(readRemainingLength(Buffer.from([0x7f]), 0), { value: 127, bytes: 1 });
    assert.deepEqual(readRemainingLength(Buffer.from([0x30, 0x80, 0x01]), 1), { value: 128, bytes: 2 });
    assert.deepEqual(readRemainingLength(Buffer.from([0xff, 0xff, 0x7f]), 0), { value: 2_097_151, bytes: 3 });
    assert.deepEqual(readRemainingLength(Buffer.from([0xff, 0xff, 0xff, 0x7f]), 0), { value: 268_435_455, bytes: 4 });
  });

  it('returns undefined while the varint is incomplete', () => {
    assert.equal(readRemainingLength(Buffer.from([0x30]), 1), undefined);
    assert.equal(readRemainingLength(Buffer.from([0x80, 0x80]), 0), undefined);
  });

  it('rejects a varint longer than 4 bytes (spec 1.5.5) with MalformedPacket', () => {
    assert.throws(() => readRemainingLength(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), 0), isProtocolError(ReasonCode.MalformedPacket));
  });
});

describe('Framer', () => {
  it('delivers packets within one chunk as subarrays of it, without copying', () => {
    const { framer, out } = collect();
    framer.push(stream);
    assert.equal(out.length, packets.length);
    out.forEach((packet, i) => {
      assert.deepEqual(packet, packets[i]);
      assert.equal(packet.buffer, stream.buffer);
    });
  });

  it('frames 256 packets pushed in one chunk', () => {
    const many = Array.from({ length: 256 }, (_, i) => publish(i % 50, i + 1));
    const { framer, out } = collect();
    framer.push(Buffer.concat(many));
    assert.deepEqual(out, many);
  });

  it('reassembles packets split at every byte boundary', () => {
    for (let split = 1; split < stream.length; split++) {
      const { framer, out } = collect();
      framer.push(stream.subarray(0, split));
      framer.push(stream.subarray(split));
      assert.deepEqual(out, packets, `split at ${split}`);
      let start = 0;
      out.forEach((packet) => {
        const end = start + packet.length;
        const withinOneChunk = end <= split || start >= split;
        assert.equal(packet.buffer === stream.buffer, withinOneChunk, `packet at ${start}, split at ${split}`);
        start = end;
      });
    }
  });

  it('reassembles packets pushed one byte at a time into exact-size buffers', () => {
    const { framer, out } = collect();
    for (let i = 0; i < stream.length; i++) framer.push(stream.subarray(i, i + 1));
    assert.deepEqual(out, packets);
    const large = out[4]!;
    assert.equal(large.byteOffset, 0);
    assert.equal(large.buffer.byteLength, large.length);
  });

  it('reassembles a randomly chunked stream (seeded)', () => {
    const next = seededRandom(42);
    const source = Array.from({ length: 300 }, (_, i) => publish(Math.floor(next() * 3000), (i % 65535) + 1));
    const whole = Buffer.concat(source);
    for (let round = 0; round < 20; round++) {
      const { framer, out } = collect();
      for (let pos = 0; pos < whole.length;) {
        const size = 1 + Math.floor(next() * (next() < 0.5 ? 16 : 8000));
        framer.push(whole.subarray(pos, pos + size));
        pos += size;
      }
      assert.deepEqual(out, source, `round ${round}`);
    }
  });

  it('accepts a packet of exactly maxPacketSize', () => {
    const packet = publish(100);
    const { framer, out } = collect(packet.length);
    framer.push(packet);
    assert.equal(out.length, 1);
  });

  it('rejects an oversize packet from its fixed header alone, before the body arrives', () => {
    const header = Buffer.from([0x32, 0xe8, 0x07]); // remaining length 1000
    const { framer, out } = collect(1000);
    assert.throws(() => framer.push(header), isProtocolError(ReasonCode.PacketTooLarge));
    assert.equal(out.length, 0);
  });

  it('rejects an oversize packet whose fixed header spans chunks', () => {
    const { framer } = collect(1000);
    framer.push(Buffer.from([0x32]));
    framer.push(Buffer.from([0xe8]));
    assert.throws(() => framer.push(Buffer.from([0x07])), isProtocolError(ReasonCode.PacketTooLarge));
  });

  it('rejects an oversize packet after complete ones in the same chunk', () => {
    const small = publish(10);
    const { framer, out } = collect(100);
    assert.throws(() => framer.push(Buffer.concat([small, Buffer.from([0x30, 0x7f])])), isProtocolError(ReasonCode.PacketTooLarge));
    assert.deepEqual(out, [small]);
  });

  it('applies a maxPacketSize changed after construction', () => {
    const { framer, out } = collect(1 << 20);
    assert.equal(framer.maxPacketSize, 1 << 20);
    framer.push(publish(500));
    framer.maxPacketSize = 100;
    assert.equal(framer.maxPacketSize, 100);
    assert.throws(() => framer.push(publish(500)), isProtocolError(ReasonCode.PacketTooLarge));
    assert.equal(out.length, 1);
  });

  it('rejects a remaining length longer than 4 bytes (spec 1.5.5) with MalformedPacket', () => {
    const { framer } = collect();
    assert.throws(() => framer.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), isProtocolError(ReasonCode.MalformedPacket));
  });

  it('rejects a remaining length longer than 4 bytes arriving byte by byte', () => {
    const { framer } = collect(Number.MAX_SAFE_INTEGER);
    for (const byte of [0x30, 0xff, 0xff, 0xff]) framer.push(Buffer.from([byte]));
    assert.throws(() => framer.push(Buffer.from([0xff])), isProtocolError(ReasonCode.MalformedPacket));
  });
});
