/**
 * Hostile input, property-based: random byte streams, and valid CONNECTs
 * followed by mutated streams of valid packets (bit flips, truncation,
 * Remaining Length changes, splices of random bytes, re-chunking), fed over
 * real sockets to a live broker (workers: 1), in sequence and a few at a
 * time. Every connection must be closed by the broker once the client ends
 * its side (no hang); afterwards no worker died ('host-failed'), no
 * connection or session is left behind, the main heap is back near its start,
 * and mqtt.js clients of both versions are served. Fixed seed, bounded runs
 * (2,000 + 1,000 + 300) and time limits (9 + 5 + 5 s): reproducible, and
 * about 20 s at most (about 10 s on a 2-core machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { brokerForSuite } from '../helpers/broker.js';
import { closeClient, connectClient, nextMessage, once, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { pkt, props, rid, str, Wire, type V } from './wire.js';

const SEED = 20_240_611;
const MiB = 1024 * 1024;

/** Valid client packets after CONNECT, built by hand. */
function validPackets(v: V): Buffer[] {
  const P = props(v);
  const list = [
    pkt(0x30, [...str('fz/a'), ...P, ...Buffer.from('hello')]),
    pkt(0x32, [...str('fz/b'), 0, 1, ...P, 0x01, 0x02]),
    pkt(0x34, [...str('fz/c'), 0, 2, ...P, 0x03]),
    pkt(0x62, [0, 2]),
    pkt(0x40, [0, 7]),
    pkt(0x50, [0, 8]),
    pkt(0x70, [0, 9]),
    pkt(0x82, [0, 3, ...P, ...str('fz/#'), 1, ...str('fz/+/x'), 2]),
    pkt(0xa2, [0, 4, ...P, ...str('fz/#')]),
    Buffer.from([0xc0, 0x00]),
  ];
  if (v === 5) {
    list.push(
      pkt(0x30, [
        ...str('fz/p'),
        ...props(5, [0x01, 1, 0x02, 0, 0, 0, 5, 0x03, ...str('text/plain'), 0x26, ...str('k'), ...str('v')]),
        0x41,
      ]),
      pkt(0x30, [...str('fz/alias'), ...props(5, [0x23, 0, 1]), 0x41]),
      pkt(0x30, [...str(''), ...props(5, [0x23, 0, 1]), 0x42]),
      pkt(0x40, [0, 7, 0x10, ...props(5, [0x1f, ...str('why')])]),
      pkt(0x82, [0, 5, ...props(5, [0x0b, 0x07]), ...str('fz/s'), 0x2e]),
      pkt(0xf0, [0x18, ...props(5, [0x15, ...str('m')])]),
      pkt(0xe0, [0x04, ...props(5, [0x1f, ...str('bye')])]),
    );
  } else {
    list.push(Buffer.from([0xe0, 0x00]));
  }
  return list;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; packet: number; delta: number }
  | { kind: 'splice'; at: number; drop: number; bytes: Uint8Array }
  | { kind: 'duplicate'; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), packet: fc.nat(), delta: fc.integer({ min: -4, max: 200 }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    drop: fc.integer({ min: 0, max: 8 }),
    bytes: fc.uint8Array({ maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }),
);

/** Applies `m` to the packets (as a list, so a Remaining Length change can target one packet). */
function mutate(packets: Buffer[], mutations: Mutation[]): Buffer {
  const list = packets.map((p) => Buffer.from(p));
  for (const m of mutations) {
    if (m.kind !== 'length' || list.length === 0) continue;
    const i = m.packet % list.length;
    const p = list[i]!;
    p[1] = Math.max(0, Math.min(0xff, (p[1] as number) + m.delta)); // may also set the continuation bit
  }
  let stream = Buffer.concat(list);
  for (const m of mutations) {
    if (stream.length === 0) break;
    const at = m.kind === 'length' ? 0 : m.at % stream.length;
    switch (m.kind) {
      case 'flip':
        stream[at] = (stream[at] as number) ^ (1 << m.bit);
        break;
      case 'truncate':
        stream = stream.subarray(0, at);
        break;
      case 'splice':
        stream = Buffer.concat([stream.subarray(0, at), m.bytes, stream.subarray(Math.min(stream.length, at + m.drop))]);
        break;
      case 'duplicate':
        stream = Buffer.concat([stream.subarray(0, at), stream.subarray(at, at + m.len), stream.subarray(at)]);
        break;
      default:
        break;
    }
  }
  return stream;
}

interface Feed {
  v: V;
  connect: boolean;
  stream: Buffer;
  cuts: number[];
}

const mutatedFeed: fc.Arbitrary<Feed> = fc.constantFrom<V>(4, 5).chain((v) => {
  const valid = validPackets(v);
  return fc.record({
    v: fc.constant(v),
    connect: fc.constant(true),
    stream: fc
      .tuple(
        fc.array(fc.integer({ min: 0, max: valid.length - 1 }), { minLength: 1, maxLength: 12 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
      )
      .map(([picks, ms]) =>
        mutate(
          picks.map((i) => valid[i]!),
          ms,
        ),
      ),
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
  });
});

const randomFeed: fc.Arbitrary<Feed> = fc.record({
  v: fc.constantFrom<V>(4, 5),
  connect: fc.boolean(),
  stream: fc.uint8Array({ minLength: 1, maxLength: 600 }).map((u) => Buffer.from(u)),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});

const hostFailures: unknown[] = [];
const b = brokerForSuite(
  { workers: 1 },
  {
    onStarted: (started) => started.broker.on('host-failed', (index: number, err: unknown) => hostFailures.push({ index, err })),
  },
);
let fed = 0;

/** One connection: (valid CONNECT,) the stream in chunks, end; the broker must close within the bound. */
async function feed(f: Feed): Promise<void> {
  const wire = await Wire.open(b.port);
  try {
    if (f.connect) await wire.handshake(f.v, rid(`fz${f.v}`));
    const cuts = [...new Set(f.cuts.map((c) => c % (f.stream.length + 1)))].sort((x, y) => x - y);
    let from = 0;
    for (const c of [...cuts, f.stream.length]) {
      if (c > from) wire.send(f.stream.subarray(from, c));
      from = c;
    }
    wire.socket.end();
    await wire.closedWithin(3_000);
    fed++;
  } finally {
    wire.destroy();
  }
}

function gcIfPossible(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function settledStats(expectConnections: number, expectSessions: number): Promise<{ connections: number; sessions: number }> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = await b.broker.stats();
    const sessions = s.hosts.reduce((n, h) => n + h.sessions, 0);
    if ((s.connections <= expectConnections && sessions <= expectSessions) || Date.now() > deadline)
      return { connections: s.connections, sessions };
    // Bounded wait for the closes to reach the host: the next 'idle', or 50 ms.
    await once(b.broker, 'idle', 50).catch(() => undefined);
  }
}

test('fuzz: random and mutated packet streams leave the broker serving, with nothing left behind', { timeout: 60_000 }, async (t) => {
  const started = Date.now();
  const gc = gcIfPossible();
  gc?.();
  const base = await b.broker.stats();
  const baseSessions = base.hosts.reduce((n, h) => n + h.sessions, 0);
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;

  const options = { seed: SEED, markInterruptAsFailure: false, endOnFailure: true };
  // In sequence: mutated streams after a valid CONNECT, and random bytes (with or without CONNECT).
  await fc.assert(fc.asyncProperty(mutatedFeed, feed), { ...options, numRuns: 2_000, interruptAfterTimeLimit: 9_000 });
  await fc.assert(fc.asyncProperty(randomFeed, feed), { ...options, numRuns: 1_000, interruptAfterTimeLimit: 5_000 });
  // A few at a time.
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(mutatedFeed, randomFeed), { minLength: 2, maxLength: 4 }), async (feeds) => {
      await Promise.all(feeds.map(feed));
    }),
    { ...options, numRuns: 300, interruptAfterTimeLimit: 5_000 },
  );
  const fuzzMs = Date.now() - started;

  assert.deepEqual(hostFailures, [], 'no actor host failed');
  const { connections, sessions } = await settledStats(base.connections, baseSessions);
  assert.equal(connections, base.connections, 'connections back to the baseline');
  assert.equal(sessions, baseSessions, 'sessions back to the baseline');

  for (const version of VERSIONS) {
    const c = await connectClient(b.port, { version });
    const t = uniqueTopic(`fz${version}`);
    await c.subscribeAsync(t, { qos: 1 });
    await c.publishAsync(t, 'alive', { qos: 1 });
    const m = await nextMessage(c, () => true, 3_000);
    assert.equal(m.payload.toString(), 'alive');
    await closeClient(c);
  }

  gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;
  const note = `fed ${fed} connections in ${fuzzMs} ms; heap ${(heap0 / MiB).toFixed(1)} → ${(heap1 / MiB).toFixed(1)} MiB, rss ${(rss0 / MiB).toFixed(1)} → ${(rss1 / MiB).toFixed(1)} MiB${gc ? '' : ' (no gc)'}`;
  t.diagnostic(note);
  assert.ok(fed >= 100, `too few connections fed: ${note}`);
  if (gc) assert.ok(heap1 - heap0 < 64 * MiB, `main heap grew: ${note}`);
  assert.ok(rss1 - rss0 < 128 * MiB, `rss grew: ${note}`);
  assert.deepEqual(hostFailures, [], 'no actor host failed');
});
