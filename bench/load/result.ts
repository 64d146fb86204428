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

/**
 * Scenarios whose clients split into independent shares, one per generator
 * process (`--generators N`): each share has its own clients and topics, and
 * the shares start each phase together. The others keep every client in one
 * process, since their clients meet on one topic (fan-in's subscriber,
 * fan-out's publisher, retained's subscriber, the slow subscriber's peers).
 */
export const SHARDED_SCENARIOS: readonly ScenarioName[] = ['pairwise-qos1', 'connection-storm'];

/** A generator above this share of its core (%) in a phase may be the limit of that phase's results, not the broker. */
export const GENERATOR_BOUND_PCT = 90;

/** Marks a generator stderr line as a progress report rather than a diagnostic. */
export const PROGRESS_PREFIX = 'progress:';
/**
 * A generator with a share of a scenario's clients writes `barrier:NAME` on
 * stderr when it reaches a phase start, and waits for `go:NAME` on stdin; the
 * orchestrator answers once every generator of the run has reached it.
 */
export const BARRIER_PREFIX = 'barrier:';
export const GO_PREFIX = 'go:';

/** What the orchestrator passes to one generator process (as command-line flags). */
export interface GeneratorOptions {
  scenario: ScenarioName;
  host: string;
  /**
   * The broker's MQTT ports: one, or one per node of a cluster. With several,
   * publishers connect to the first node and subscribers to the others
   * (scenario-context.ts, nodePort), so that every message crosses the cluster.
   */
  ports: number[];
  /** Length of each measured phase, in ms. */
  durationMs: number;
  /**
   * The broker's processes, for /proc CPU and RSS readings (summed over them):
   * one pid, or a cluster's nodes and its nats-server; empty when unknown.
   */
  brokerPids: number[];
  /** A cluster's nats-server, whose traffic each measured phase reads (nats-traffic.ts); null for one broker. */
  nats: NatsProcess | null;
  /** Pairwise: the fixed offered rate of the latency phase, in msgs/s. */
  latencyRate: number;
  /** Every client opens a persistent session (Clean Session 0), as the persistence runs do. */
  persistentSessions: boolean;
  /** This generator's share (0-based) of the run's `shards` generator processes. */
  shard: number;
  shards: number;
}

/** The nats-server of a cluster under test: its monitoring port (`-m`) and its pid. */
export interface NatsProcess {
  monitorPort: number;
  pid: number;
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
  /** With several generators, the busiest one's. */
  generatorCpuPct: number;
  /** With several generators: each one's CPU in the phase, in shard order. */
  generatorCpuPcts?: number[];
  /** Null when the broker's pid was unknown or /proc could not be read. With several broker processes, their sum. */
  brokerCpuPct: number | null;
  /** With several broker processes (a cluster's nodes, then its nats-server): each one's CPU in the phase. */
  brokerCpuPcts?: (number | null)[];
  /**
   * Share of the phase the main thread was runnable but not running (% of
   * wall time): high values mean another process (or, for a broker pinned
   * with its worker threads, its own threads) held its CPU. With several
   * broker processes, the longest of their main threads' waits.
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
  /** With several generators: this share's latency samples in ms (rounded to µs), for percentiles over all shares. */
  latencyMs?: number[];
}
