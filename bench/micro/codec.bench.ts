/**
 * Micro-benchmarks for the hot-path codec (src/shared/codec/framer.ts and
 * src/shared/codec/publish.ts) against mqtt-packet: framing and parsing a chunk of
 * 256 PUBLISH packets, and decoding and encoding single PUBLISH packets
 * (topic `sensor/123/temp`, 16-byte payload, QoS 1) on 3.1.1 and 5.0. Inputs
 * are 1024 distinct precomputed packets or chunks, cycled; all are built when
 * the tasks are registered, outside the timed functions. Runs in the
 * micro-benchmark process (bench/micro/run.ts), on its main thread.
 */
import type { Bench } from 'tinybench';
import mqttPacket from 'mqtt-packet';
import { Framer } from '../../src/shared/codec/framer.js';
import { decodePublish, encodePublish, type EncodablePublish } from '../../src/shared/codec/publish.js';

const INPUTS = 1024;
const PACKETS_PER_CHUNK = 256;

/** The i-th PUBLISH: a distinct payload and packet identifier. */
function publishFor(i: number): EncodablePublish {
  const payload = Buffer.alloc(16);
  payload.writeUInt32BE(i, 0);
  payload.writeDoubleBE(i * 0.25, 8);
  return { topic: 'sensor/123/temp', payload, qos: 1, retain: false, dup: false, messageId: (i % 65535) + 1 };
}

function toPacket(p: EncodablePublish): mqttPacket.IPublishPacket {
  return { cmd: 'publish', ...p };
}

export async function register(bench: Bench): Promise<void> {
  /** Results are summed here so no timed call can be optimized away. */
  let sink = 0;

  const chunks = Array.from({ length: INPUTS }, (_, c) =>
    Buffer.concat(
      Array.from({ length: PACKETS_PER_CHUNK }, (_, i) => mqttPacket.generate(toPacket(publishFor(c * PACKETS_PER_CHUNK + i)))),
    ),
  );
  const framer = new Framer(1 << 20, (packet) => {
    sink += packet.length;
  });
  let c = 0;
  bench.add(`codec: Framer, ${PACKETS_PER_CHUNK}-packet chunk`, () => {
    framer.push(chunks[c++ & (INPUTS - 1)]!);
  });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (packet) => {
    sink += packet.length ?? 0;
  });
  bench.add(`codec: mqtt-packet parse, ${PACKETS_PER_CHUNK}-packet chunk`, () => {
    parser.parse(chunks[c++ & (INPUTS - 1)]!);
  });

  for (const version of [4, 5]) {
    const label = version === 5 ? '5.0' : '3.1.1';
    const messages = Array.from({ length: INPUTS }, (_, i) => publishFor(i));
    const packetObjects = messages.map(toPacket);
    const options = { protocolVersion: version };
    const packets = packetObjects.map((p) => mqttPacket.generate(p, options));
    let i = 0;
    bench.add(`codec: decodePublish, ${label}`, () => {
      sink += decodePublish(packets[i++ & (INPUTS - 1)]!, version).payload.length;
    });
    bench.add(`codec: encodePublish, ${label}`, () => {
      sink += encodePublish(messages[i++ & (INPUTS - 1)]!, version).length;
    });
    bench.add(`codec: mqtt-packet generate, ${label}`, () => {
      sink += mqttPacket.generate(packetObjects[i++ & (INPUTS - 1)]!, options).length;
    });
  }
}
