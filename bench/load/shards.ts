/**
 * One result from the results of a scenario's generator processes
 * (`--generators N`, SHARDED_SCENARIOS only), in the bench orchestrator
 * (bench/cli.ts, parent process). The shares ran the same phases from common
 * starts, so their rates add up; latency percentiles come from every share's
 * samples together; the connection storm's rate is every share's connections
 * over the slowest share's time, and its RSS per connection is the broker's
 * growth (read by the first share, after all had connected) over every share's
 * held connections. Each phase keeps every generator's CPU and is marked by the
 * busiest.
 */
import { LatencySamples } from './measure.js';
import type { Metric, PhaseStats, ScenarioResult } from './result.js';

/** Phase details that count something per share and add up over the shares; the others are the first share's. */
const SUMMED_DETAIL = new Set(['ackedPerS', 'deliveredPerS', 'offered', 'delivered', 'skipped', 'samples', 'connected', 'failed', 'held']);

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

function mergePhase(phases: readonly PhaseStats[]): PhaseStats {
  const first = phases[0] as PhaseStats;
  const cpus = phases.map((p) => p.generatorCpuPct);
  const waits = phases.map((p) => p.generatorWaitPct).filter((w): w is number => w !== null);
  const detail = { ...first.detail };
  for (const key of Object.keys(detail)) {
    if (SUMMED_DETAIL.has(key)) detail[key] = round(sum(phases.map((p) => Number(p.detail[key] ?? 0))), 1);
  }
  if (typeof detail.seconds === 'number') detail.seconds = Math.max(...phases.map((p) => Number(p.detail.seconds ?? 0)));
  return {
    ...first,
    wallMs: Math.max(...phases.map((p) => p.wallMs)),
    generatorCpuPct: Math.max(...cpus),
    generatorCpuPcts: cpus,
    generatorWaitPct: waits.length === 0 ? null : Math.max(...waits),
    detail,
  };
}

/** The value of a metric over all shares, from the merged phases and the shares' samples. */
function mergeMetric(metric: Metric, shares: readonly ScenarioResult[], phases: readonly PhaseStats[], latency: LatencySamples): Metric {
  const connect = phases.find((p) => p.name === 'connect');
  switch (metric.key) {
    case 'p50':
    case 'p99':
      return { ...metric, value: round(latency.percentiles([Number(metric.key.slice(1))])[0] as number, 3) };
    case 'connects':
      return { ...metric, value: round(Number(connect?.detail.connected) / Number(connect?.detail.seconds), 0) };
    case 'rss-per-conn':
      return {
        ...metric,
        value: round((Number(connect?.detail.rssAfterKiB) - Number(connect?.detail.rssBeforeKiB)) / Number(connect?.detail.held), 2),
      };
    default: {
      const values = shares.map((r) => r.metrics.find((m) => m.key === metric.key)?.value ?? 0);
      return { ...metric, value: metric.throughput === true ? round(sum(values), 0) : (values[0] as number) };
    }
  }
}

/** The shares' results (in shard order) as one result; a single result is returned as it is. */
export function mergeShares(shares: readonly ScenarioResult[]): ScenarioResult {
  const first = shares[0];
  if (first === undefined) throw new Error('no generator result to merge');
  if (shares.length === 1) return first;
  const phases = first.phases.map((_, i) => mergePhase(shares.map((r) => r.phases[i] as PhaseStats)));
  const latency = new LatencySamples();
  for (const r of shares) latency.addAll(r.latencyMs ?? []);
  const notes = shares.flatMap((r, i) => r.notes.map((n) => `generator ${i + 1}/${shares.length}: ${n}`));
  return {
    scenario: first.scenario,
    metrics: first.metrics.map((m) => mergeMetric(m, shares, phases, latency)),
    phases,
    notes,
    generatorCpus: [...new Set(shares.map((r) => r.generatorCpus))].join(' | '),
  };
}
