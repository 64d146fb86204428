/**
 * The shapes that cross the process boundary between the bench orchestrator
 * (bench/cli.ts, parent process) and the load generator (bench/load/generator.ts,
 * child process): scenario names, the generator's options, and the one JSON
 * result object a scenario prints. Plain data, no behaviour.
 */

export const SCENARIOS = ['fan-in', 'fan-out', 'pairwise-qos1', 'connection-storm', 'retained', 'slow-subscriber'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** Marks a generator stderr line as a progress report rather than a diagnostic. */
export const PROGRESS_PREFIX = 'progress:';

/** What the orchestrator passes to one generator process (as command-line flags). */
export interface GeneratorOptions {
  scenario: ScenarioName;
  host: string;
  port: number;
  /** Length of each measured phase, in ms. */
  durationMs: number;
  /** The broker's pid, for /proc CPU and RSS readings; 0 when unknown. */
  brokerPid: number;
  /** Every client opens a persistent session (Clean Session 0), as the persistence runs do. */
  persistentSessions: boolean;
}

/** One headline number of a scenario. `better` says which direction is an improvement. */
export interface Metric {
  key: string;
  label: string;
  value: number;
  unit: string;
  better: 'higher' | 'lower';
  /** True for message or connection rates: the metrics that decide the worker-count recommendation. */
  throughput?: boolean;
}

/** CPU and timing of one measured phase. CPU % is of one core: 100 means one core saturated. */
export interface PhaseStats {
  name: string;
  wallMs: number;
  generatorCpuPct: number;
  /** Null when the broker's pid was unknown or /proc could not be read. */
  brokerCpuPct: number | null;
  /**
   * Share of the phase the main thread was runnable but not running (% of
   * wall time): high values mean another process (or, for a broker pinned
   * with its worker threads, its own threads) held its CPU.
   */
  generatorWaitPct: number | null;
  brokerWaitPct: number | null;
  detail: Record<string, number | string | boolean>;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  metrics: Metric[];
  phases: PhaseStats[];
  /** Conditions a reader should know about (timeouts, lost messages, generator saturation). */
  notes: string[];
  /** The generator's Cpus_allowed_list, read from /proc/self/status. */
  generatorCpus: string;
}
