/**
 * What every load scenario is given (its options, a progress line, a barrier
 * shared with the run's other generators) and returns, which share of the
 * clients is this generator's, how a scenario connects its clients (and to
 * which node of a cluster), and how it waits until its subscriptions route.
 * Runs in the load generator process (bench/load/generator.ts).
 */
import { connectMany, encodePublish, type ClientOptions, type LoadClient } from './client.js';
import { sleep, waitSettled } from './measure.js';
import type { GeneratorOptions, ScenarioResult } from './result.js';

export interface ScenarioContext {
  opts: GeneratorOptions;
  /** Reports what the scenario is doing now (shown on the orchestrator's progress line). */
  progress(text: string): void;
  /** Resolves once every generator of the run has reached the phase `name` (at once with one generator). */
  barrier(name: string): Promise<void>;
}

/** The indexes [start, end) of `count` clients that are this generator's share. */
export function share(ctx: ScenarioContext, count: number): { start: number; end: number } {
  const { shard, shards } = ctx.opts;
  return { start: Math.floor((count * shard) / shards), end: Math.floor((count * (shard + 1)) / shards) };
}

export type ScenarioOutcome = Omit<ScenarioResult, 'scenario' | 'generatorCpus'>;

/** Handshakes in flight while a scenario sets up its clients. */
const SETUP_CONCURRENCY = 100;

/**
 * What a client is to the scenario, which picks its node when the broker is a
 * cluster: every publisher connects to the first node, subscriber `index` to
 * one of the others in turn (so that every message crosses the cluster), and
 * a client that is neither to any node in turn. With one broker, all to it.
 */
export type Side = 'publisher' | 'subscriber' | 'any';

export function nodePort(ctx: ScenarioContext, side: Side, index: number): number {
  const { ports } = ctx.opts;
  const n = ports.length;
  const node = n === 1 || side === 'publisher' ? 0 : side === 'subscriber' ? 1 + (index % (n - 1)) : index % n;
  return ports[node] as number;
}

export function clientOptions(ctx: ScenarioContext, clientId: string, side: Side, index = 0): ClientOptions {
  return { host: ctx.opts.host, port: nodePort(ctx, side, index), clientId, clean: !ctx.opts.persistentSessions };
}

/** Connects `count` clients named `${prefix}-${first + i}`, client `first + i` placed by nodePort. */
export async function connectAll(ctx: ScenarioContext, prefix: string, count: number, side: Side, first = 0): Promise<LoadClient[]> {
  const { clients, failed, errors } = await connectMany(count, SETUP_CONCURRENCY, (i) =>
    clientOptions(ctx, `${prefix}-${first + i}`, side, first + i),
  );
  if (failed > 0) throw new Error(`${failed} of ${count} ${prefix} clients failed to connect: ${errors.join('; ')}`);
  return clients;
}

/** A topic a publisher will publish on, and the subscribers that hold a subscription matching it. */
export interface Route {
  publisher: LoadClient;
  topic: string;
  subscribers: readonly LoadClient[];
}

/** How often a route without a delivery yet gets another probe, how long all may take, and the quiet that ends the wait. */
const PROBE_EVERY_MS = 50;
const PROBE_MAX_MS = 15_000;
const PROBE_QUIET_MS = 300;

/**
 * Waits until every route delivers: each publisher sends a QoS 0 probe on its
 * topic every PROBE_EVERY_MS until each of the route's subscribers has received
 * a message, then the probes still on their way are let arrive. On one broker
 * the first probe arrives; in a cluster, a SUBACK comes before the other
 * nodes know of the subscription (a NATS round trip later), and a message
 * sent in between reaches nobody.
 */
export async function awaitRoutes(ctx: ScenarioContext, routes: readonly Route[]): Promise<void> {
  const payload = Buffer.alloc(16, 0x70);
  const probes = new Map(routes.map((r) => [r, encodePublish(r.topic, payload, 0, false).bytes]));
  const start = new Map(routes.flatMap((r) => r.subscribers.map((s) => [s, s.received] as const)));
  let waiting = [...routes];
  const deadline = Date.now() + PROBE_MAX_MS;
  while (waiting.length > 0) {
    if (Date.now() > deadline)
      throw new Error(`${waiting.length} of ${routes.length} routes delivered nothing ${PROBE_MAX_MS / 1000} s after subscribing`);
    ctx.progress(`waiting for ${waiting.length} of ${routes.length} routes to deliver`);
    for (const r of waiting) r.publisher.write(probes.get(r) as Buffer);
    await sleep(PROBE_EVERY_MS);
    waiting = waiting.filter((r) => r.subscribers.some((s) => s.received === start.get(s)));
  }
  const total = (): number => routes.reduce((n, r) => r.subscribers.reduce((m, s) => m + s.received, n), 0);
  await waitSettled(total, Infinity, PROBE_QUIET_MS, PROBE_MAX_MS);
}
