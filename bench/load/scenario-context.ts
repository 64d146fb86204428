/**
 * What every load scenario is given (its options and a progress line) and
 * returns, and how a scenario connects its clients. Runs in the load
 * generator process (bench/load/generator.ts).
 */
import { connectMany, type ClientOptions, type LoadClient } from './client.js';
import type { GeneratorOptions, ScenarioResult } from './result.js';

export interface ScenarioContext {
  opts: GeneratorOptions;
  /** Reports what the scenario is doing now (shown on the orchestrator's progress line). */
  progress(text: string): void;
}

export type ScenarioOutcome = Omit<ScenarioResult, 'scenario' | 'generatorCpus'>;

/** Handshakes in flight while a scenario sets up its clients. */
const SETUP_CONCURRENCY = 100;

export function clientOptions(ctx: ScenarioContext, clientId: string): ClientOptions {
  return { host: ctx.opts.host, port: ctx.opts.port, clientId, clean: !ctx.opts.persistentSessions };
}

export async function connectAll(ctx: ScenarioContext, prefix: string, count: number): Promise<LoadClient[]> {
  const { clients, failed, errors } = await connectMany(count, SETUP_CONCURRENCY, (i) => clientOptions(ctx, `${prefix}-${i}`));
  if (failed > 0) throw new Error(`${failed} of ${count} ${prefix} clients failed to connect: ${errors.join('; ')}`);
  return clients;
}
