/**
 * `npm run bench --`: the end-to-end load benchmark orchestrator. Runs in the
 * parent process (via `npm run bench --` or bench/load/main.ts) and owns the run
 * plan: for each scenario it starts each broker in turn (fresh process,
 * pinned to the broker CPUs, on a free 127.0.0.1 port), runs the load
 * generator processes (bench/load/generator.ts, pinned to the generator CPUs:
 * `--generators N` of them, each with its share of the clients, for the
 * SHARDED_SCENARIOS; one for the others) against it, and stops the broker.
 * With `--cluster`, Shoal also runs as a cluster of `--nodes` processes on
 * its own nats-server, all on the broker CPUs, beside the single node at the
 * same worker count. The broker order rotates by one per
 * scenario so no broker always runs first. It shows a progress line on stderr,
 * prints the result table on stdout, and writes the JSON report and SVG chart
 * when asked.
 *
 *   npm run bench -- [--scenario NAME[,NAME]] [--workers 1,2,4] [--against aedes,mosquitto]
 *               [--duration S] [--json FILE] [--svg FILE] [--sweep-workers] [--hooks] [--no-shoal]
 *               [--broker-cpus LIST] [--generator-cpus LIST] [--generators N]
 *               [--cluster] [--nodes N] [--latency-rate N]
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { countCpus, cpusAllowed } from './load/measure.js';
import {
  BARRIER_PREFIX,
  GO_PREFIX,
  isScenarioName,
  PROGRESS_PREFIX,
  SCENARIOS,
  SHARDED_SCENARIOS,
  type ScenarioName,
  type ScenarioResult,
} from './load/result.js';
import { PAYLOAD_BYTES } from './load/scenarios.js';
import { mergeShares } from './load/shards.js';
import {
  BROKER_HOST,
  BrokerUnavailable,
  PEERS,
  startBroker,
  unsupported,
  type BrokerKind,
  type BrokerTarget,
  type RunningBroker,
} from './peers/brokers.js';
import { freePort, spawnPinned, stopProcess, tail, TASKSET_AVAILABLE } from './peers/process.js';
import { costUnit, readThreads, threadCost, type ThreadReading } from './peers/thread-sampler.js';
import { describeEnvironment } from './report/environment.js';
import type { BenchReport, RunRecord } from './report/model.js';
import { recommendWorkers } from './report/recommend.js';
import { renderSvg } from './report/svg.js';
import { formatFindings, formatHeader, formatTable } from './report/table.js';

const GENERATOR_ENTRY = fileURLToPath(new URL('./load/generator.js', import.meta.url));
const DEFAULT_WORKERS = [1];
const DEFAULT_NODES = 2;
const DEFAULT_LATENCY_RATE = 20_000;
const SWEEP_WORKERS = [0, 1, 2, 4];

const USAGE = `usage: npm run bench -- [options]
  --scenario NAME[,NAME]   ${SCENARIOS.join(', ')} (default: all)
  --workers N[,N]          Shoal worker threads to run (default ${DEFAULT_WORKERS.join(',')}; with --sweep-workers ${SWEEP_WORKERS.join(',')})
  --sweep-workers          run Shoal at each worker count and recommend one
  --hooks                  also run Shoal with a trivial auth_on_register/auth_on_publish plugin,
                           loaded in the workers (hooks@workers) and in the main process (hooks@main)
  --against NAME[,NAME]    peer brokers: ${PEERS.join(', ')} (default: all; "none" for none); ceiling is
                           the Node ceiling (bench/peers/node-ceiling.ts), run on fan-in, fan-out, connection-storm
  --no-shoal               run only the peer brokers
  --persist                every client opens a persistent session; Shoal runs in memory and with a data
                           directory (+store), Mosquitto also with persistence true (+persist)
  --sync                   with --persist, Shoal also with durability sync (+store sync)
  --cluster                Shoal also as a cluster (label "cluster×N"): a nats-server and N Shoal nodes joined
                           to it, all on the broker CPUs; publishers connect to the first node, subscribers
                           to the others, so every message crosses NATS; each phase counts the NATS traffic
  --nodes N                nodes of the cluster (default ${DEFAULT_NODES})
  --latency-rate N         pairwise-qos1: the offered rate of the latency phase, msgs/s (default ${DEFAULT_LATENCY_RATE})
  --watch                  Shoal unwatched (-watch: no $SYS, no monitoring server) and watched (+watch: $SYS
                           every second, /metrics scraped every second, /status.json every two) side by side
  --duration S             seconds per measured phase (default 5)
  --json FILE              write the full report as JSON
  --svg FILE               write a throughput / p99 chart against worker count
  --broker-cpus LIST       taskset CPU list for the broker (default 0)
  --generator-cpus LIST    taskset CPU list for the load generators (default 1)
  --generators N           load generator processes, each with a share of the clients, for
                           ${SHARDED_SCENARIOS.join(' and ')} (default: one per generator CPU); the other
                           scenarios run one
`;

interface BenchOptions {
  scenarios: ScenarioName[];
  targets: BrokerTarget[];
  sweep: boolean;
  persist: boolean;
  durationS: number;
  json: string | undefined;
  svg: string | undefined;
  brokerCpus: string;
  generatorCpus: string;
  generators: number;
  latencyRate: number;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      workers: { type: 'string' },
      'sweep-workers': { type: 'boolean', default: false },
      hooks: { type: 'boolean', default: false },
      persist: { type: 'boolean', default: false },
      sync: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      against: { type: 'string', default: PEERS.join(',') },
      'no-shoal': { type: 'boolean', default: false },
      duration: { type: 'string', default: '5' },
      json: { type: 'string' },
      svg: { type: 'string' },
      'broker-cpus': { type: 'string', default: '0' },
      'generator-cpus': { type: 'string', default: '1' },
      generators: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      nodes: { type: 'string', default: String(DEFAULT_NODES) },
      'latency-rate': { type: 'string', default: String(DEFAULT_LATENCY_RATE) },
    },
    strict: true,
  });
  const scenarios = values.scenario === undefined ? [...SCENARIOS] : list(values.scenario);
  for (const s of scenarios) if (!isScenarioName(s)) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
  const sweep = values['sweep-workers'];
  const workers = values.workers === undefined ? (sweep ? SWEEP_WORKERS : DEFAULT_WORKERS) : list(values.workers).map(Number);
  for (const w of workers) if (!Number.isInteger(w) || w < 0) throw new Error(`bad worker count in --workers: ${values.workers}`);
  const peers = values.against === 'none' ? [] : list(values.against);
  for (const p of peers) if (!(PEERS as readonly string[]).includes(p)) throw new Error(`unknown peer "${p}" (known: ${PEERS.join(', ')})`);
  if (values.hooks && (sweep || values['no-shoal']))
    throw new Error('--hooks runs Shoal: it does not go with --sweep-workers or --no-shoal');
  if (values.cluster && (sweep || values['no-shoal'] || values.persist))
    throw new Error('--cluster runs Shoal in memory: it does not go with --sweep-workers, --no-shoal or --persist');
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 2) throw new Error(`bad --nodes (2 or more): ${values.nodes}`);
  const shoalTargets = values['no-shoal']
    ? []
    : [...new Set(workers)].flatMap((w): BrokerTarget[] => [
        ...(values.watch
          ? [
              { kind: 'shoal' as const, label: `shoal w=${w} -watch`, workers: w, watch: 'off' as const },
              { kind: 'shoal' as const, label: `shoal w=${w} +watch`, workers: w, watch: 'on' as const },
            ]
          : [{ kind: 'shoal' as const, label: `shoal w=${w}`, workers: w }]),
        ...(values.cluster ? [{ kind: 'shoal-cluster' as const, label: `shoal w=${w} cluster×${nodes}`, workers: w, nodes }] : []),
        ...(values.persist ? [{ kind: 'shoal' as const, label: `shoal w=${w} +store`, workers: w, persist: true }] : []),
        ...(values.persist && values.sync
          ? [{ kind: 'shoal' as const, label: `shoal w=${w} +store sync`, workers: w, persist: true, durability: 'sync' as const }]
          : []),
        ...(values.hooks
          ? [
              { kind: 'shoal' as const, label: `shoal w=${w} hooks@workers`, workers: w, hooks: 'workers' as const },
              { kind: 'shoal' as const, label: `shoal w=${w} hooks@main`, workers: w, hooks: 'main' as const },
            ]
          : []),
      ]);
  const peerTargets = [...new Set(peers)].flatMap((p): BrokerTarget[] => [
    { kind: p as BrokerKind, label: p },
    ...(values.persist && p === 'mosquitto' ? [{ kind: 'mosquitto' as const, label: 'mosquitto +persist', persist: true }] : []),
  ]);
  const targets: BrokerTarget[] = [...shoalTargets, ...peerTargets];
  if (targets.length === 0) throw new Error('nothing to run: no Shoal and no peers');
  const durationS = Number(values.duration);
  if (!(durationS > 0)) throw new Error(`bad --duration: ${values.duration}`);
  const generators = values.generators === undefined ? countCpus(values['generator-cpus']) : Number(values.generators);
  if (!Number.isInteger(generators) || generators < 1) throw new Error(`bad --generators: ${values.generators}`);
  const latencyRate = Number(values['latency-rate']);
  if (!(latencyRate > 0)) throw new Error(`bad --latency-rate: ${values['latency-rate']}`);
  return {
    scenarios: scenarios as ScenarioName[],
    targets,
    sweep,
    persist: values.persist,
    durationS,
    json: values.json,
    svg: values.svg,
    brokerCpus: values['broker-cpus'],
    generatorCpus: values['generator-cpus'],
    generators,
    latencyRate,
  };
}

/** One status line on stderr: rewritten in place on a terminal, else printed when it changes (at most every 2 s). */
class Progress {
  private done = 0;
  private current = '';
  private started = Date.now();
  private lastLine = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number) {}

  begin(what: string): void {
    this.current = what;
    this.started = Date.now();
    this.show('starting', true);
  }

  update(detail: string): void {
    this.show(detail, false);
  }

  finish(): void {
    this.done++;
    if (this.tty) process.stderr.write('\r\x1b[K');
  }

  private show(detail: string, force: boolean): void {
    const width = 20;
    const filled = Math.round((this.done / this.total) * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done + 1}/${this.total}`;
    const line = `${bar} ${this.current} · ${detail} · ${Math.round((Date.now() - this.started) / 1000)}s`;
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
    } else if (force || Date.now() - this.lastLine >= 2000) {
      this.lastLine = Date.now();
      process.stderr.write(`${line}\n`);
    }
  }
}

/** Upper bound on one generator run, after which it is killed: generous, as fan-in may take ~10 phases. */
const generatorTimeoutMs = (durationS: number): number => 120_000 + 25_000 * durationS;

/**
 * Runs one generator process to its result. Progress lines go to `progress`
 * (null: dropped), barrier arrivals to `arrive`.
 */
function awaitGenerator(
  child: ChildProcess,
  progress: Progress | null,
  arrive: (barrier: string) => void,
  timeoutMs: number,
): Promise<ScenarioResult> {
  const stdout = tail(child.stdout, 8 << 20);
  let diagnostics = '';
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith(PROGRESS_PREFIX)) progress?.update(line.slice(PROGRESS_PREFIX.length));
      else if (line.startsWith(BARRIER_PREFIX)) arrive(line.slice(BARRIER_PREFIX.length));
      else diagnostics = `${diagnostics}${line}\n`.slice(-4000);
    }
  });
  // A generator that died before reading its go line must not take the orchestrator with it.
  child.stdin?.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      diagnostics += `killed after ${timeoutMs / 1000} s\n`;
      void stopProcess(child, 1000);
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      const last = stdout().trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as ScenarioResult);
      else reject(new Error(`generator exited with ${code}: ${(diagnostics + partial).trim() || 'no output'}`));
    });
  });
}

/**
 * Runs the scenario's generator processes (`opts.generators` for the
 * SHARDED_SCENARIOS, else one), opens each barrier once all have reached it,
 * and merges their results. One failing stops the others, which would
 * otherwise wait at the next barrier.
 */
async function runGenerators(
  opts: BenchOptions,
  scenario: ScenarioName,
  broker: RunningBroker,
  progress: Progress,
): Promise<ScenarioResult> {
  const shards = SHARDED_SCENARIOS.includes(scenario) ? opts.generators : 1;
  const args = [
    GENERATOR_ENTRY,
    '--scenario',
    scenario,
    '--port',
    broker.ports.join(','),
    '--duration-ms',
    String(Math.round(opts.durationS * 1000)),
    '--broker-pid',
    broker.pids.join(','),
    '--latency-rate',
    String(opts.latencyRate),
    ...(broker.nats === null ? [] : ['--nats-monitor', String(broker.nats.monitorPort), '--nats-pid', String(broker.nats.pid)]),
    ...(opts.persist ? ['--persistent-sessions'] : []),
  ];
  const children = Array.from({ length: shards }, (_, shard) =>
    spawnPinned(
      opts.generatorCpus,
      process.execPath,
      [...args, '--shard', String(shard), '--shards', String(shards)],
      shards > 1 ? 'pipe' : 'ignore',
    ),
  );
  const arrivals = new Map<string, number>();
  const arrive = (barrier: string): void => {
    const arrived = (arrivals.get(barrier) ?? 0) + 1;
    arrivals.set(barrier, arrived);
    if (arrived === shards) for (const child of children) child.stdin?.write(`${GO_PREFIX}${barrier}\n`);
  };
  try {
    const results = await Promise.all(
      children.map((child, i) => awaitGenerator(child, i === 0 ? progress : null, arrive, generatorTimeoutMs(opts.durationS))),
    );
    return mergeShares(results);
  } catch (err) {
    await Promise.all(children.map((child) => stopProcess(child, 1000)));
    throw err;
  }
}

/** A run with nothing measured yet; `skipped`: why it will not run. */
function emptyRecord(scenario: ScenarioName, target: BrokerTarget, skipped: string | null): RunRecord {
  return { scenario, target, brokerPid: null, brokerCpus: null, result: null, error: null, skipped, wallS: 0, threads: null };
}

async function runOne(opts: BenchOptions, scenario: ScenarioName, target: BrokerTarget, progress: Progress): Promise<RunRecord> {
  const t0 = Date.now();
  const record = emptyRecord(scenario, target, null);
  progress.begin(`${scenario} · ${target.label}`);
  let broker: RunningBroker | null = null;
  try {
    const port = await freePort();
    broker = await startBroker(target, port, opts.brokerCpus);
    record.brokerPid = broker.pid;
    record.brokerCpus = broker.cpus;
    const { metricsPort } = broker;
    const read = (): Promise<ThreadReading | null> =>
      metricsPort === null ? Promise.resolve(null) : readThreads(BROKER_HOST, metricsPort);
    // The per-thread figures are an extra: a broker whose /metrics does not answer loses them, not its result.
    let before: ThreadReading | null = null;
    let unanswered: string | undefined;
    try {
      before = await read();
    } catch (err) {
      unanswered = `no per-thread figures: /metrics did not answer before the scenario (${failure(err)})`;
    }
    record.result = await runGenerators(opts, scenario, broker, progress);
    if (unanswered !== undefined) record.result.notes.push(unanswered);
    if (before !== null) {
      try {
        const after = await read();
        if (after !== null) record.threads = threadCost(before, after, costUnit(scenario));
      } catch (err) {
        record.result.notes.push(`no per-thread figures: /metrics did not answer after the scenario (${failure(err)})`);
      }
    }
  } catch (err) {
    if (err instanceof BrokerUnavailable) record.skipped = err.message;
    else {
      const died = broker?.exitStatus() ?? null;
      record.error =
        died === null ? (err as Error).message : `${(err as Error).message}\nthe broker died (${died}): ${broker?.output().slice(-1500)}`;
    }
  } finally {
    await broker?.stop();
  }
  record.wallS = Math.round((Date.now() - t0) / 100) / 10;
  progress.finish();
  return record;
}

/** An error's message with its cause's (fetch puts the reason a request failed there). */
function failure(err: unknown): string {
  const cause = (err as Error).cause instanceof Error ? `: ${((err as Error).cause as Error).message}` : '';
  return `${(err as Error).message}${cause}`;
}

/** Entry point of `npm run bench --`; returns the process exit code (0 ok, 1 some run failed, 2 usage). */
export async function runBench(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let opts: BenchOptions;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`npm run bench --: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const report: BenchReport = {
    environment: describeEnvironment(),
    settings: {
      scenarios: opts.scenarios,
      durationS: opts.durationS,
      brokerCpus: opts.brokerCpus,
      generatorCpus: opts.generatorCpus,
      generators: opts.generators,
      latencyRate: opts.latencyRate,
      pinned: TASKSET_AVAILABLE,
      payloadBytes: PAYLOAD_BYTES,
    },
    brokers: opts.targets.map((t) => t.label),
    ratioSubject: null,
    runs: [],
    recommendation: null,
  };
  process.stdout.write(`${formatHeader(report)}\nOrchestrator CPUs ${cpusAllowed('self')}; brokers: ${report.brokers.join(', ')}\n`);

  const skipped = new Map<string, string>();
  const progress = new Progress(opts.scenarios.length * opts.targets.length);
  for (const [s, scenario] of opts.scenarios.entries()) {
    const order = opts.targets.map((_, i) => opts.targets[(i + s) % opts.targets.length] as BrokerTarget);
    for (const target of order) {
      // A broker that cannot run here is tried once; later scenarios record the same reason.
      const reason = skipped.get(target.label) ?? unsupported(target, scenario) ?? undefined;
      let record: RunRecord;
      if (reason === undefined) {
        record = await runOne(opts, scenario, target, progress);
        if (record.skipped !== null) skipped.set(target.label, record.skipped);
      } else {
        record = emptyRecord(scenario, target, reason);
        progress.finish();
      }
      report.runs.push(record);
    }
  }

  if (opts.sweep) report.recommendation = recommendWorkers(report.runs, opts.scenarios);
  const shoalLabels = opts.targets.filter((t) => t.kind === 'shoal').map((t) => t.label);
  const headline = report.recommendation === null ? shoalLabels[0] : `shoal w=${report.recommendation.workers}`;
  const kinds = new Set(opts.targets.map((t) => t.kind));
  report.ratioSubject = kinds.size < 2 ? null : (headline ?? opts.targets[0]?.label ?? null);

  process.stdout.write(`\n${formatTable(report)}\n\n${formatFindings(report)}\n`);
  if (opts.json !== undefined) {
    writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`JSON report: ${opts.json}\n`);
  }
  if (opts.svg !== undefined) {
    writeFileSync(opts.svg, renderSvg(report));
    process.stdout.write(`SVG chart: ${opts.svg}\n`);
  }
  return report.runs.some((r) => r.error !== null) ? 1 : 0;
}
