/**
 * The bench report as the orchestrator (bench/cli.ts) assembles it and as it
 * is written to JSON: one record per (scenario, broker) run, the environment,
 * and the worker-count recommendation. The table, SVG and recommendation
 * helpers in bench/report/ read it; nothing here does I/O. Types only, used
 * by the orchestrator process.
 */
import type { BrokerTarget } from '../peers/brokers.js';
import type { Metric, ScenarioName, ScenarioResult } from '../load/result.js';
import type { Environment } from './environment.js';
import type { ThreadCost } from '../peers/thread-sampler.js';

export interface RunRecord {
  scenario: ScenarioName;
  target: BrokerTarget;
  brokerPid: number | null;
  brokerCpus: string | null;
  result: ScenarioResult | null;
  /** Why the run failed; null when it produced a result or was skipped. */
  error: string | null;
  /** Why the broker could not run here at all (binary or build missing). */
  skipped: string | null;
  wallS: number;
  /** Shoal only: its threads' busy time per message over the scenario, from its own /metrics. */
  threads: ThreadCost | null;
}

export interface Recommendation {
  workers: number;
  reason: string;
  /** Geometric mean over the throughput metrics of value ÷ best value, per worker count. */
  scores: { workers: number; score: number }[];
}

export interface BenchReport {
  environment: Environment;
  settings: {
    scenarios: ScenarioName[];
    durationS: number;
    brokerCpus: string;
    generatorCpus: string;
    /** Generator processes for each of SHARDED_SCENARIOS (the others run one). */
    generators: number;
    /** Pairwise: the offered rate of the latency phase, msgs/s (absent from reports before it was an option: 20,000). */
    latencyRate?: number;
    pinned: boolean;
    payloadBytes: number;
  };
  /** Broker labels in column order. */
  brokers: string[];
  /** The label whose ratios against the other brokers the table shows; null with fewer than two kinds. */
  ratioSubject: string | null;
  runs: RunRecord[];
  recommendation: Recommendation | null;
}

export function findMetric(runs: readonly RunRecord[], scenario: ScenarioName, label: string, key: string): Metric | undefined {
  const run = runs.find((r) => r.scenario === scenario && r.target.label === label);
  return run?.result?.metrics.find((m) => m.key === key);
}

/** Every (scenario, metric) pair that some run reported, in scenario order then metric order. */
export function metricCatalogue(
  runs: readonly RunRecord[],
  scenarios: readonly ScenarioName[],
): { scenario: ScenarioName; metric: Metric }[] {
  const out: { scenario: ScenarioName; metric: Metric }[] = [];
  for (const scenario of scenarios) {
    const seen = new Set<string>();
    for (const run of runs) {
      if (run.scenario !== scenario) continue;
      for (const metric of run.result?.metrics ?? []) {
        if (seen.has(metric.key)) continue;
        seen.add(metric.key);
        out.push({ scenario, metric });
      }
    }
  }
  return out;
}
