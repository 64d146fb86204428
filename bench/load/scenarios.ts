/**
 * The end-to-end load scenarios (slow-subscriber in its own module), run inside the load generator process
 * (bench/load/generator.ts) against one broker on 127.0.0.1. Each connects its
 * clients, runs bounded phases (a warm-up, then a measured window of
 * `durationMs`), and returns metrics plus per-phase CPU of the generator and
 * the broker. All traffic is MQTT 3.1.1 through bench/load/client.ts.
 * Against a cluster, publishers and subscribers are on different nodes
 * (scenario-context.ts) and each measured phase also counts the NATS traffic
 * (nats-traffic.ts).
 */
import { performance } from 'node:perf_hooks';
import { connectMany, encodePublish, LoadClient } from './client.js';
import { LatencySamples, openFileLimit, Phase, rssKiB, sleep, sumOver, waitBrokerIdle, waitSettled, waitUntil } from './measure.js';
import { natsWindow } from './nats-traffic.js';
import { awaitRoutes, clientOptions, connectAll, share, type ScenarioContext, type ScenarioOutcome } from './scenario-context.js';
import { slowSubscriber } from './slow-subscriber.js';
import type { Metric, PhaseStats, ScenarioName } from './result.js';
import {
  FlatOutPump,
  GatedPump,
  MAX_BATCH,
  PacedPump,
  RepeatSource,
  StampedSource,
  totalAcked,
  totalReceived,
  WindowedPump,
  type Source,
} from './traffic.js';

/** Payload size of every benchmark PUBLISH; the first 8 bytes carry a send timestamp where latency is measured. */
export const PAYLOAD_BYTES = 16;
const FAN_IN_PUBLISHERS = 100;
const FAN_OUT_SUBSCRIBERS = 1000;
const PAIRS = 500;
const STORM_CLIENTS = 10_000;
const STORM_CONCURRENCY = 500;
const RETAINED_TOPICS = 100_000;
/** Packets per write per publisher in the QoS 0 flat-out phases. */
const FLAT_OUT_BATCH = 32;
/** Fan-out: messages the publisher may be ahead of the slowest delivery (×1000 copies queued). */
const FAN_OUT_WINDOW = 64;
/** Pairwise: unacknowledged QoS 1 PUBLISH packets per publisher. */
const QOS1_WINDOW = 16;
/** Pairwise: the latency phase's offered rate (GeneratorOptions.latencyRate) is paced every LATENCY_TICK_MS. */
const LATENCY_TICK_MS = 1;
/**
 * Fan-in pacing tick. 100 publishers at 150k msgs/s with a 1 ms tick would
 * write 1-2 packets per write() and saturate the generator's core on
 * syscalls; at 5 ms each write carries about 7 packets at that rate.
 */
const FAN_IN_TICK_MS = 5;
/** A sustainable step delivers at least this share of the offered rate... */
const SUSTAIN_DELIVERED = 0.95;
/** ...and its backlog (sent − delivered) grows by at most this share of what was sent in the window. */
const SUSTAIN_BACKLOG_GROWTH = 0.05;
/** The search for the highest sustainable rate starts here... */
const SEARCH_START_RATE = 10_000;
/** ...aims the next step at this share of the rate that would fill the broker's core... */
const SEARCH_HEADROOM = 0.95;
/** ...but grows the rate by at least this factor per step... */
const SEARCH_MIN_GROWTH = 1.1;
/** ...for at most this many steps in all. */
const SEARCH_STEPS = 9;
/** A failed step with the broker below this CPU % (of one core) is retried once. */
const SEARCH_RETRY_BELOW_CPU = 80;
/** After a phase: wait for deliveries to stop for QUIET_MS, at most DRAIN_MAX_MS. */
const QUIET_MS = 300;
const DRAIN_MAX_MS = 5_000;
/**
 * Before the next phase: wait at most this long for the broker to go idle. An
 * overloaded broker can take many seconds to work off its backlog, and a step
 * measured on top of that backlog would understate it.
 */
const IDLE_MAX_MS = 30_000;
/** Retained: give up waiting for the subscriber after this long, or after RETAINED_QUIET_MS without a message. */
const RETAINED_TIMEOUT_MS = 60_000;
const RETAINED_QUIET_MS = 5_000;

const payload = (): Buffer => Buffer.alloc(PAYLOAD_BYTES, 0x61);
const round = (n: number, digits = 0): number => Math.round(n * 10 ** digits) / 10 ** digits;
const warmupMs = (ctx: ScenarioContext): number => Math.min(1000, Math.max(250, ctx.opts.durationMs / 4));
/** A throughput metric: a message (or connection) rate, higher is better. */
const rateMetric = (key: string, label: string, value: number, unit = 'msgs/s'): Metric => ({
  key,
  label,
  value,
  unit,
  better: 'higher',
  throughput: true,
});

/** Throws when the broker has closed any of the clients (it crashed, or dropped them): the phase is invalid. */
function assertConnected(clients: readonly LoadClient[]): void {
  const closed = clients.filter((c) => c.closed).length;
  if (closed > 0) throw new Error(`the broker closed ${closed} of ${clients.length} connections during the phase`);
}

/**
 * Starts a measured phase: the CPU and wall time of Phase, and against a
 * cluster its NATS traffic, added to the phase's details at its end.
 */
async function startPhase(ctx: ScenarioContext, name: string): Promise<{ end(detail?: PhaseStats['detail']): Promise<PhaseStats> }> {
  const nats = ctx.opts.nats === null ? null : await natsWindow(ctx.opts.nats);
  const phase = new Phase(name, ctx.opts.brokerPids);
  return {
    async end(detail = {}): Promise<PhaseStats> {
      const stats = phase.end(detail);
      if (nats !== null) Object.assign(stats.detail, await nats.end());
      return stats;
    },
  };
}

interface WindowResult {
  delta: Record<string, number>;
  rate: Record<string, number>;
  phase: PhaseStats;
}

/** Warms up, then measures how much each counter grows over a window of `durationMs`. */
async function measureWindow(ctx: ScenarioContext, name: string, counters: () => Record<string, number>): Promise<WindowResult> {
  await sleep(warmupMs(ctx));
  const phase = await startPhase(ctx, name);
  const before = counters();
  const t0 = performance.now();
  await sleep(ctx.opts.durationMs);
  const after = counters();
  const seconds = (performance.now() - t0) / 1000;
  const delta: Record<string, number> = {};
  const rate: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    delta[key] = value - (before[key] ?? 0);
    rate[key] = round((delta[key] as number) / seconds);
  }
  return { delta, rate, phase: await phase.end(Object.fromEntries(Object.entries(rate).map(([key, value]) => [`${key}PerS`, value]))) };
}

interface StepResult {
  rate: number;
  pass: boolean;
  delivered: number;
  /** Whether the broker went idle after the step within IDLE_MAX_MS. */
  idle: boolean;
  phase: PhaseStats;
}

/** Offers `rate` msgs/s from the publishers to the subscriber and judges whether it was sustained. */
async function sustainStep(
  ctx: ScenarioContext,
  rate: number,
  pubs: LoadClient[],
  sources: Source[],
  sub: LoadClient,
): Promise<StepResult> {
  const r0 = sub.received;
  const pump = new PacedPump(pubs, sources, rate, FAN_IN_TICK_MS);
  pump.start();
  const w = await measureWindow(ctx, `sustain@${rate}`, () => ({
    sent: pump.sent,
    delivered: sub.received - r0,
    backlog: pump.sent - (sub.received - r0),
  }));
  pump.stop();
  assertConnected([sub, ...pubs]);
  const idle = await waitBrokerIdle(ctx.opts.brokerPids, () => sub.received, IDLE_MAX_MS);
  const delivered = w.rate.delivered as number;
  const pass =
    delivered >= SUSTAIN_DELIVERED * rate &&
    (w.rate.sent as number) >= SUSTAIN_DELIVERED * rate &&
    (w.delta.backlog as number) <= SUSTAIN_BACKLOG_GROWTH * (w.delta.sent as number);
  w.phase.detail.offered = rate;
  w.phase.detail.pass = pass;
  w.phase.detail.idleAfter = idle;
  return { rate, pass, delivered, idle, phase: w.phase };
}

/**
 * The rate at which the broker's CPU would reach SEARCH_HEADROOM of a core,
 * extrapolated from its CPU at the last two passing steps (brokers batch
 * better as the rate grows, so CPU is not proportional to rate), or from the
 * last step alone (CPU ∝ rate) when the two give no usable slope; Infinity
 * when the broker's CPU is unknown.
 */
function nextRate(previous: StepResult | null, last: StepResult): number {
  const u = last.phase.brokerCpuPct;
  if (u === null || u <= 0) return Infinity;
  const target = SEARCH_HEADROOM * 100;
  const u0 = previous?.phase.brokerCpuPct ?? null;
  if (previous !== null && u0 !== null && u > u0) return last.rate + ((target - u) * (last.rate - previous.rate)) / (u - u0);
  return (last.rate * target) / u;
}

/**
 * Highest sustainable rate, approached from below: a broker pushed past its
 * limit can stay degraded long after (aedes does), so once a rate has passed,
 * the first failure ends the search. After a pass, the next rate aims at the
 * broker's core being SEARCH_HEADROOM full (nextRate), growing by at least
 * SEARCH_MIN_GROWTH and at most ×2 per step. Failures before any pass halve
 * the rate. One failure with the broker's core not full (below
 * SEARCH_RETRY_BELOW_CPU) is taken for interference from other processes and
 * retried once at the same rate.
 */
async function findMaxRate(
  ctx: ScenarioContext,
  step: (rate: number) => Promise<StepResult>,
): Promise<{ best: StepResult | null; steps: StepResult[] }> {
  const steps: StepResult[] = [];
  let best: StepResult | null = null;
  let rate = SEARCH_START_RATE;
  let retried = false;
  for (let i = 0; i < SEARCH_STEPS && rate >= 100; i++) {
    ctx.progress(`find max: step ${i + 1}/${SEARCH_STEPS} at ${rate.toLocaleString('en-US')} msgs/s`);
    const result = await step(rate);
    steps.push(result);
    if (!result.pass) {
      const cpu = result.phase.brokerCpuPct;
      if (!retried && cpu !== null && cpu < SEARCH_RETRY_BELOW_CPU) {
        retried = true;
        continue;
      }
      if (best !== null) break;
      rate = Math.round(rate / 2);
      continue;
    }
    const previous = best;
    best = result;
    const growth = nextRate(previous, result) / rate;
    rate = Math.round((rate * Math.min(2, Math.max(SEARCH_MIN_GROWTH, growth))) / 100) * 100;
  }
  return { best, steps };
}

/** Fan-in: the paced search first, on a clean broker; flat out last, since it can leave a backlog behind. */
async function fanIn(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const sub = await LoadClient.connect(clientOptions(ctx, 'fan-in-sub', 'subscriber'));
  await sub.subscribe('bench/in/+', 0);
  const pubs = await connectAll(ctx, 'fan-in-pub', FAN_IN_PUBLISHERS, 'publisher');
  await awaitRoutes(ctx, [{ publisher: pubs[0] as LoadClient, topic: 'bench/in/0', subscribers: [sub] }]);
  const sources = pubs.map((_, i) => new RepeatSource(encodePublish(`bench/in/${i}`, payload(), 0, false)));
  const notes: string[] = [];

  const search = await findMaxRate(ctx, (rate) => sustainStep(ctx, rate, pubs, sources, sub));
  if (search.best === null) notes.push('no offered rate was sustained');
  else if (search.steps[search.steps.length - 1]?.pass === true)
    notes.push(`every step passed: the sustainable rate is above ${search.best.rate}`);
  const busy = search.steps.filter((s) => !s.idle).map((s) => s.rate);
  if (busy.length > 0)
    notes.push(`broker still busy ${IDLE_MAX_MS / 1000} s after the steps at ${busy.join(', ')} msgs/s: later steps ran on its backlog`);

  ctx.progress('flat out');
  const r0 = sub.received;
  const flat = new FlatOutPump(pubs, sources, FLAT_OUT_BATCH);
  flat.start();
  const w = await measureWindow(ctx, 'flat-out', () => ({ sent: flat.sent, delivered: sub.received - r0 }));
  flat.stop();
  assertConnected([sub, ...pubs]);
  const received = await waitSettled(() => sub.received - r0, flat.sent, QUIET_MS, DRAIN_MAX_MS);
  const undeliveredPct = round((100 * (flat.sent - received)) / Math.max(1, flat.sent), 2);
  w.phase.detail.undeliveredPct = undeliveredPct;
  if (undeliveredPct > 1) {
    notes.push(
      `flat out: ${undeliveredPct}% of the QoS 0 messages written were not delivered by ${DRAIN_MAX_MS / 1000} s after the phase (dropped, or still queued in the broker or socket buffers)`,
    );
  }
  return {
    metrics: [
      rateMetric(
        'sustained',
        'highest sustainable delivered rate',
        search.best === null ? 0 : Math.min(search.best.delivered, search.best.rate),
      ),
      rateMetric('flat-out', 'delivered rate, publishers flat out', w.rate.delivered as number),
    ],
    phases: [...search.steps.map((s) => s.phase), w.phase],
    notes,
  };
}

async function fanOut(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const topic = 'bench/out';
  const subs = await connectAll(ctx, 'fan-out-sub', FAN_OUT_SUBSCRIBERS, 'subscriber');
  ctx.progress(`subscribing ${FAN_OUT_SUBSCRIBERS} clients`);
  await Promise.all(subs.map((s) => s.subscribe(topic, 0)));
  const pub = await LoadClient.connect(clientOptions(ctx, 'fan-out-pub', 'publisher'));
  await awaitRoutes(ctx, [{ publisher: pub, topic, subscribers: subs }]);
  const pump = new GatedPump(pub, new RepeatSource(encodePublish(topic, payload(), 0, false)), subs, FAN_OUT_WINDOW);
  ctx.progress('publishing');
  pump.start();
  const w = await measureWindow(ctx, 'fan-out', () => ({ published: pump.sent, delivered: pump.delivered }));
  pump.stop();
  assertConnected([pub, ...subs]);
  const notes: string[] = [];
  if (pump.stalls > 0) notes.push(`${pump.stalls} stalls: copies written off as dropped by the broker`);
  w.phase.detail.stalls = pump.stalls;
  return {
    metrics: [rateMetric('delivered', 'delivered rate (1 → 1,000)', w.rate.delivered as number)],
    phases: [w.phase],
    notes,
  };
}

/** Pairwise QoS 1; with several generators each runs its share of the pairs at its share of the latency phase's rate. */
async function pairwiseQos1(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const { start, end } = share(ctx, PAIRS);
  const pairs = end - start;
  const latencyRate = ctx.opts.latencyRate * (pairs / PAIRS);
  const subs = await connectAll(ctx, 'pair-sub', pairs, 'subscriber', start);
  ctx.progress(`subscribing ${pairs} clients`);
  await Promise.all(subs.map((s, i) => s.subscribe(`bench/pair/${start + i}`, 1)));
  const pubs = await connectAll(ctx, 'pair-pub', pairs, 'publisher', start);
  await awaitRoutes(
    ctx,
    pubs.map((publisher, i) => ({ publisher, topic: `bench/pair/${start + i}`, subscribers: [subs[i] as LoadClient] })),
  );
  const sources = pubs.map((_, i) => new StampedSource(encodePublish(`bench/pair/${start + i}`, payload(), 1, false)));
  const notes: string[] = [];

  await ctx.barrier('acked flat out');
  ctx.progress('QoS 1 flat out');
  const windowed = new WindowedPump(pubs, sources, QOS1_WINDOW);
  windowed.start();
  const flat = await measureWindow(ctx, 'acked flat out', () => ({ acked: totalAcked(pubs), delivered: totalReceived(subs) }));
  windowed.stop();
  assertConnected([...pubs, ...subs]);
  if (!(await waitBrokerIdle(ctx.opts.brokerPids, () => totalAcked(pubs) + totalReceived(subs), IDLE_MAX_MS))) {
    notes.push(`broker still busy ${IDLE_MAX_MS / 1000} s after the flat-out phase: the latency phase ran on its backlog`);
  }

  // Latency runs from the write of a PUBLISH (its batch's performance.now(), in the payload)
  // to its arrival at the subscriber; PUBACK round trips are not part of it.
  await ctx.barrier('latency');
  ctx.progress(`latency at ${ctx.opts.latencyRate.toLocaleString('en-US')} msgs/s`);
  const samples = new LatencySamples();
  let recording = false;
  for (const s of subs) {
    s.onPublish = (buf, _header, start) => {
      if (recording) samples.add(performance.now() - buf.readDoubleLE(start));
    };
  }
  const paced = new PacedPump(pubs, sources, latencyRate, LATENCY_TICK_MS);
  paced.start();
  await sleep(warmupMs(ctx));
  const phase = await startPhase(ctx, 'latency');
  recording = true;
  const t0 = performance.now();
  await sleep(ctx.opts.durationMs);
  recording = false;
  const seconds = (performance.now() - t0) / 1000;
  paced.stop();
  assertConnected([...pubs, ...subs]);
  const [p50, p99] = samples.percentiles([50, 99]) as [number, number];
  const achieved = round(samples.count / seconds);
  if (achieved < SUSTAIN_DELIVERED * latencyRate) {
    notes.push(`latency phase delivered ${achieved} msgs/s, below the offered ${latencyRate}: latencies include queueing`);
  }
  if (paced.skipped > 0)
    notes.push(`latency phase: ${paced.skipped} messages not offered because publishers' sockets were blocked (not in the percentiles)`);
  return {
    metrics: [
      rateMetric('acked', 'acknowledged rate, QoS 1 flat out', flat.rate.acked as number),
      { key: 'p50', label: `p50 latency at ${ctx.opts.latencyRate / 1000}k msgs/s`, value: round(p50, 3), unit: 'ms', better: 'lower' },
      { key: 'p99', label: `p99 latency at ${ctx.opts.latencyRate / 1000}k msgs/s`, value: round(p99, 3), unit: 'ms', better: 'lower' },
    ],
    phases: [
      { ...flat.phase, detail: { ...flat.phase.detail, window: QOS1_WINDOW } },
      await phase.end({ offered: latencyRate, delivered: achieved, skipped: paced.skipped, samples: samples.count }),
    ],
    notes,
    ...(ctx.opts.shards > 1 ? { latencyMs: samples.rounded() } : {}),
  };
}

/**
 * Connection storm; with several generators each connects its share of the
 * clients with its share of the pending handshakes, all starting together,
 * and the broker's RSS is read once all have connected.
 */
async function connectionStorm(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const notes: string[] = [];
  const { start, end: shareEnd } = share(ctx, STORM_CLIENTS);
  let end = shareEnd;
  const ownLimit = openFileLimit('self');
  if (ownLimit !== null && ownLimit < end - start + 100) {
    end = start + ownLimit - 100;
    notes.push(`generator open-file limit is ${ownLimit}: its share of the storm reduced to ${end - start} clients`);
  }
  const target = end - start;
  const concurrency = Math.max(1, Math.round(STORM_CONCURRENCY / ctx.opts.shards));
  const firstPid = ctx.opts.brokerPids[0] ?? 0;
  const brokerLimit = firstPid > 0 ? openFileLimit(firstPid) : null;
  if (brokerLimit !== null && brokerLimit < STORM_CLIENTS + 50)
    notes.push(`broker open-file limit is ${brokerLimit}, below ${STORM_CLIENTS} connections`);

  const rssBefore = sumOver(ctx.opts.brokerPids, rssKiB);
  await ctx.barrier('connect');
  const phase = new Phase('connect', ctx.opts.brokerPids);
  const t0 = performance.now();
  let shown = 0;
  const { clients, failed, errors } = await connectMany(
    target,
    concurrency,
    (i) => clientOptions(ctx, `storm-${start + i}`, 'any', start + i),
    (connected, failures) => {
      if (connected + failures - shown >= 500) {
        shown = connected + failures;
        ctx.progress(`${connected.toLocaleString('en-US')} / ${target.toLocaleString('en-US')} connected`);
      }
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const connectPhase = phase.end({ connected: clients.length, failed, seconds: round(seconds, 3) });
  if (failed > 0) notes.push(`${failed} connects failed: ${errors.join('; ')}`);

  await ctx.barrier('hold');
  ctx.progress('holding connections');
  await sleep(1000);
  const held = clients.filter((c) => !c.closed).length;
  const rssAfter = sumOver(ctx.opts.brokerPids, rssKiB);
  await ctx.barrier('release');
  if (held < clients.length) notes.push(`${clients.length - held} connections closed while held`);
  connectPhase.detail.held = held;
  const metrics: Metric[] = [
    rateMetric(
      'connects',
      `connects/s (${STORM_CLIENTS.toLocaleString('en-US')} clients, ${STORM_CONCURRENCY} pending)`,
      round(clients.length / seconds),
      'conn/s',
    ),
  ];
  if (rssBefore !== null && rssAfter !== null && held > 0) {
    metrics.push({
      key: 'rss-per-conn',
      label: 'broker RSS per held connection',
      value: round((rssAfter - rssBefore) / held, 2),
      unit: 'KiB',
      better: 'lower',
    });
    connectPhase.detail.rssBeforeKiB = rssBefore;
    connectPhase.detail.rssAfterKiB = rssAfter;
  } else {
    notes.push('broker RSS unavailable (no pid)');
  }
  for (const c of clients) c.destroy();
  return { metrics, phases: [connectPhase], notes };
}

/** The retained messages as write batches of MAX_BATCH packets; the very last PUBLISH is QoS 1. */
function retainedBatches(): Buffer[] {
  const batches: Buffer[] = [];
  for (let start = 0; start < RETAINED_TOPICS; start += MAX_BATCH) {
    const packets: Buffer[] = [];
    for (let i = start; i < Math.min(start + MAX_BATCH, RETAINED_TOPICS); i++) {
      packets.push(encodePublish(`bench/retained/${i}`, payload(), i === RETAINED_TOPICS - 1 ? 1 : 0, true).bytes);
    }
    batches.push(Buffer.concat(packets));
  }
  return batches;
}

async function retained(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const batches = retainedBatches();
  const notes: string[] = [];
  const pub = await LoadClient.connect(clientOptions(ctx, 'retained-pub', 'publisher'));
  ctx.progress(`publishing ${RETAINED_TOPICS.toLocaleString('en-US')} retained messages`);
  const publish = new Phase('publish retained', ctx.opts.brokerPids);
  const t0 = performance.now();
  for (const batch of batches) {
    if (!pub.write(batch)) await new Promise<void>((resolve) => (pub.onDrain = resolve));
  }
  pub.onDrain = null;
  await waitUntil(() => pub.acked > 0 || pub.closed, RETAINED_TIMEOUT_MS);
  assertConnected([pub]);
  if (pub.acked === 0) notes.push(`the final QoS 1 retained PUBLISH was not acknowledged within ${RETAINED_TIMEOUT_MS / 1000} s`);
  await pub.ping();
  const publishSeconds = (performance.now() - t0) / 1000;
  const publishPhase = publish.end({ acked: pub.acked === 1 });

  ctx.progress('subscribing to #');
  const sub = await LoadClient.connect(clientOptions(ctx, 'retained-sub', 'subscriber'));
  let count = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  sub.onPublish = (_buf, header) => {
    if ((header & 1) !== 0 && ++count === RETAINED_TOPICS) done();
  };
  const receive = new Phase('receive retained', ctx.opts.brokerPids);
  const t1 = performance.now();
  const subscribed = sub.subscribe('#', 0);
  const deadline = performance.now() + RETAINED_TIMEOUT_MS;
  const progress = setInterval(
    () => ctx.progress(`${count.toLocaleString('en-US')} / ${RETAINED_TOPICS.toLocaleString('en-US')} retained received`),
    500,
  );
  await Promise.race([all, waitSettled(() => count, RETAINED_TOPICS, RETAINED_QUIET_MS, deadline - performance.now())]);
  clearInterval(progress);
  const receiveSeconds = (performance.now() - t1) / 1000;
  await subscribed;
  const receivePhase = receive.end({ received: count });
  const metrics: Metric[] = [
    rateMetric('receive-rate', 'retained delivery rate', round(count / receiveSeconds)),
    {
      key: 'publish-all',
      label: `time to publish ${RETAINED_TOPICS / 1000}k retained`,
      value: round(publishSeconds, 3),
      unit: 's',
      better: 'lower',
    },
  ];
  if (count === RETAINED_TOPICS) {
    metrics.unshift({
      key: 'receive-all',
      label: `time to receive ${RETAINED_TOPICS / 1000}k retained on #`,
      value: round(receiveSeconds, 3),
      unit: 's',
      better: 'lower',
    });
  } else {
    notes.push(
      `only ${count} of ${RETAINED_TOPICS} retained messages arrived (no more for ${RETAINED_QUIET_MS / 1000} s, or ${RETAINED_TIMEOUT_MS / 1000} s in all)`,
    );
  }
  return { metrics, phases: [publishPhase, receivePhase], notes };
}

export const SCENARIO_RUNNERS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<ScenarioOutcome>> = {
  'fan-in': fanIn,
  'fan-out': fanOut,
  'pairwise-qos1': pairwiseQos1,
  'connection-storm': connectionStorm,
  retained,
  'slow-subscriber': slowSubscriber,
};
