/**
 * What every load scenario is given (its options, a progress line, a barrier
 * shared with the run's other generators) and returns, which share of the
 * clients is this generator's, and how a scenario connects its clients. Runs in the load
 * generator process (bench/load/generator.ts).
 */
import { connectMany, type ClientOptions, type LoadClient } from './client.js';
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

export function clientOptions(ctx: ScenarioContext, clientId: string): ClientOptions {
  return { host: ctx.opts.host, port: ctx.opts.port, clientId, clean: !ctx.opts.persistentSessions };
}

/** Connects `count` clients named `${prefix}-${first + i}`. */
export async function connectAll(ctx: ScenarioContext, prefix: string, count: number, first = 0): Promise<LoadClient[]> {
  const { clients, failed, errors } = await connectMany(count, SETUP_CONCURRENCY, (i) => clientOptions(ctx, `${prefix}-${first + i}`));
  if (failed > 0) throw new Error(`${failed} of ${count} ${prefix} clients failed to connect: ${errors.join('; ')}`);
  return clients;
}
