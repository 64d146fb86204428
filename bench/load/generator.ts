/**
 * Load generator process entry: runs one scenario against one broker and
 * prints one JSON ScenarioResult on stdout. The orchestrator (bench/cli.ts)
 * spawns it pinned to its own CPU (`taskset -c 1` by default):
 *
 *   node dist/bench/load/generator.js --scenario fan-in --port 1883 \
 *     [--host 127.0.0.1] [--duration-ms 5000] [--broker-pid PID] [--persistent-sessions]
 *     [--shard I --shards N] [--latency-rate 20000]
 *
 * Against a cluster, `--port` lists every node's port (publishers on the
 * first, subscribers on the others), `--broker-pid` every node's pid and the
 * nats-server's, and `--nats-monitor PORT --nats-pid PID` name the
 * nats-server whose traffic each measured phase counts (nats-traffic.ts).
 *
 * With `--shards N` (N > 1) this process runs share I of the scenario's
 * clients, and waits at each phase start for the orchestrator to say that all
 * N have reached it (BARRIER_PREFIX on stderr, GO_PREFIX on stdin).
 * Progress goes to stderr as lines starting with PROGRESS_PREFIX; anything
 * else on stderr is a diagnostic. Exit code 0 with a result, 1 on failure.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { countCpus, cpusAllowed } from './measure.js';
import {
  BARRIER_PREFIX,
  GENERATOR_BOUND_PCT,
  GO_PREFIX,
  isScenarioName,
  PROGRESS_PREFIX,
  SHARDED_SCENARIOS,
  type GeneratorOptions,
  type PhaseStats,
  type ScenarioResult,
} from './result.js';
import { natsMetrics } from './nats-traffic.js';
import { SCENARIO_RUNNERS } from './scenarios.js';

/** Run-queue wait (% of a phase) of a main thread from which the phase may count as disturbed. */
const CONTENDED_PCT = 10;

function parseOptions(argv: string[]): GeneratorOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'duration-ms': { type: 'string', default: '5000' },
      'broker-pid': { type: 'string', default: '0' },
      'persistent-sessions': { type: 'boolean', default: false },
      shard: { type: 'string', default: '0' },
      shards: { type: 'string', default: '1' },
      'latency-rate': { type: 'string', default: '20000' },
      'nats-monitor': { type: 'string' },
      'nats-pid': { type: 'string' },
    },
    strict: true,
  });
  const scenario = values.scenario ?? '';
  if (!isScenarioName(scenario)) throw new Error(`unknown or missing --scenario: ${scenario}`);
  const ports = (values.port ?? '').split(',').map(Number);
  if (!ports.every((port) => Number.isInteger(port) && port > 0 && port <= 65535)) throw new Error(`bad --port: ${values.port}`);
  const durationMs = Number(values['duration-ms']);
  if (!(durationMs > 0)) throw new Error(`bad --duration-ms: ${values['duration-ms']}`);
  const persistentSessions = values['persistent-sessions'];
  const shards = Number(values.shards);
  const shard = Number(values.shard);
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`bad --shards: ${values.shards}`);
  if (!Number.isInteger(shard) || shard < 0 || shard >= shards) throw new Error(`bad --shard: ${values.shard}`);
  if (shards > 1 && !SHARDED_SCENARIOS.includes(scenario)) throw new Error(`${scenario} runs in one generator`);
  const brokerPids = values['broker-pid']
    .split(',')
    .map((pid) => Number(pid) || 0)
    .filter((pid) => pid > 0);
  const latencyRate = Number(values['latency-rate']);
  if (!(latencyRate > 0)) throw new Error(`bad --latency-rate: ${values['latency-rate']}`);
  const monitorPort = Number(values['nats-monitor']);
  const natsPid = Number(values['nats-pid']);
  if ((values['nats-monitor'] === undefined) !== (values['nats-pid'] === undefined))
    throw new Error('--nats-monitor and --nats-pid go together');
  const nats = values['nats-monitor'] === undefined ? null : { monitorPort, pid: natsPid };
  return { scenario, host: values.host, ports, durationMs, brokerPids, nats, latencyRate, persistentSessions, shard, shards };
}

/** Waits for GO_PREFIX lines on stdin; with one generator every barrier opens at once. */
function barriers(shards: number): (name: string) => Promise<void> {
  if (shards === 1) return () => Promise.resolve();
  const waiting = new Map<string, () => void>();
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.startsWith(GO_PREFIX)) waiting.get(line.slice(GO_PREFIX.length))?.();
  });
  // Stdin holds the process open only while a barrier waits: a stalled scenario must still reach beforeExit below.
  process.stdin.unref();
  return (name) =>
    new Promise((resolve) => {
      process.stdin.ref();
      waiting.set(name, () => {
        waiting.delete(name);
        process.stdin.unref();
        resolve();
      });
      process.stderr.write(`${BARRIER_PREFIX}${name}\n`);
    });
}

// A scenario awaiting a reply that can no longer come leaves nothing pending: fail rather than exit 0 silently.
process.on('beforeExit', () => {
  process.stderr.write('generator: the scenario stalled (nothing left to wait on; a broker reply never came)\n');
  process.exit(1);
});

/**
 * Notes on phases whose numbers may be bent: the generator near saturation,
 * or a process kept off its CPUs by others. A main thread waiting for a CPU
 * counts as contention only while its process left its CPUs partly unused;
 * otherwise its own threads (GC, Shoal's workers) were the competition.
 */
function phaseNotes(
  phases: readonly PhaseStats[],
  brokerCpus: number,
  generatorCpus: number,
  shards: number,
  brokerProcesses: number,
): string[] {
  const notes: string[] = [];
  const list = (picked: PhaseStats[], pct: (p: PhaseStats) => number | null, what: string): string =>
    picked.map((p) => `${p.name} (${what} ${pct(p)}%)`).join(', ');
  const saturated = phases.filter((p) => p.generatorCpuPct > GENERATOR_BOUND_PCT);
  if (saturated.length > 0) {
    notes.push(
      `generator near saturation in ${list(saturated, (p) => p.generatorCpuPct, 'CPU')}: those results may be bounded by the generator`,
    );
  }
  const contended = (wait: number | null, cpu: number | null, cpus: number): boolean =>
    (wait ?? 0) >= CONTENDED_PCT && cpu !== null && cpu < GENERATOR_BOUND_PCT * cpus;
  // A cluster's processes share the broker CPUs and wait for each other by design.
  const broker = brokerProcesses > 1 ? [] : phases.filter((p) => contended(p.brokerWaitPct, p.brokerCpuPct, brokerCpus));
  if (broker.length > 0) notes.push(`other processes took CPU from the broker in ${list(broker, (p) => p.brokerWaitPct, 'waited')}`);
  // Several generators on shared CPUs wait for each other by design; the report judges them by their CPU together.
  const own = shards > 1 ? [] : phases.filter((p) => contended(p.generatorWaitPct, p.generatorCpuPct, generatorCpus));
  if (own.length > 0) notes.push(`other processes took CPU from the generator in ${list(own, (p) => p.generatorWaitPct, 'waited')}`);
  return notes;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const outcome = await SCENARIO_RUNNERS[opts.scenario]({
    opts,
    progress: (text) => process.stderr.write(`${PROGRESS_PREFIX}${text}\n`),
    barrier: barriers(opts.shards),
  });
  outcome.metrics.push(...natsMetrics(outcome.phases));
  const brokerCpus = opts.brokerPids.length === 0 ? 1 : countCpus(cpusAllowed(opts.brokerPids[0] as number));
  outcome.notes.push(...phaseNotes(outcome.phases, brokerCpus, countCpus(cpusAllowed('self')), opts.shards, opts.brokerPids.length));
  const result: ScenarioResult = { scenario: opts.scenario, generatorCpus: cpusAllowed('self'), ...outcome };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`generator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
