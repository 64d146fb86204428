/**
 * Load generator process entry: runs one scenario against one broker and
 * prints one JSON ScenarioResult on stdout. The orchestrator (bench/cli.ts)
 * spawns it pinned to its own CPU (`taskset -c 1` by default):
 *
 *   node dist/bench/load/generator.js --scenario fan-in --port 1883 \
 *     [--host 127.0.0.1] [--duration-ms 5000] [--broker-pid PID] [--persistent-sessions]
 *
 * Progress goes to stderr as lines starting with PROGRESS_PREFIX; anything
 * else on stderr is a diagnostic. Exit code 0 with a result, 1 on failure.
 */
import { parseArgs } from 'node:util';
import { countCpus, cpusAllowed } from './measure.js';
import { isScenarioName, PROGRESS_PREFIX, type GeneratorOptions, type PhaseStats, type ScenarioResult } from './result.js';
import { SCENARIO_RUNNERS } from './scenarios.js';

/** Generator CPU (% of one core) in a phase from which the generator, not the broker, may be the limit. */
const SATURATED_PCT = 90;
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
    },
    strict: true,
  });
  const scenario = values.scenario ?? '';
  if (!isScenarioName(scenario)) throw new Error(`unknown or missing --scenario: ${scenario}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad --port: ${values.port}`);
  const durationMs = Number(values['duration-ms']);
  if (!(durationMs > 0)) throw new Error(`bad --duration-ms: ${values['duration-ms']}`);
  const persistentSessions = values['persistent-sessions'];
  return { scenario, host: values.host, port, durationMs, brokerPid: Number(values['broker-pid']) || 0, persistentSessions };
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
function phaseNotes(phases: readonly PhaseStats[], brokerCpus: number, generatorCpus: number): string[] {
  const notes: string[] = [];
  const list = (picked: PhaseStats[], pct: (p: PhaseStats) => number | null, what: string): string =>
    picked.map((p) => `${p.name} (${what} ${pct(p)}%)`).join(', ');
  const saturated = phases.filter((p) => p.generatorCpuPct >= SATURATED_PCT);
  if (saturated.length > 0) {
    notes.push(
      `generator near saturation in ${list(saturated, (p) => p.generatorCpuPct, 'CPU')}: those results may be bounded by the generator`,
    );
  }
  const contended = (wait: number | null, cpu: number | null, cpus: number): boolean =>
    (wait ?? 0) >= CONTENDED_PCT && cpu !== null && cpu < SATURATED_PCT * cpus;
  const broker = phases.filter((p) => contended(p.brokerWaitPct, p.brokerCpuPct, brokerCpus));
  if (broker.length > 0) notes.push(`other processes took CPU from the broker in ${list(broker, (p) => p.brokerWaitPct, 'waited')}`);
  const own = phases.filter((p) => contended(p.generatorWaitPct, p.generatorCpuPct, generatorCpus));
  if (own.length > 0) notes.push(`other processes took CPU from the generator in ${list(own, (p) => p.generatorWaitPct, 'waited')}`);
  return notes;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const outcome = await SCENARIO_RUNNERS[opts.scenario]({
    opts,
    progress: (text) => process.stderr.write(`${PROGRESS_PREFIX}${text}\n`),
  });
  outcome.notes.push(...phaseNotes(outcome.phases, countCpus(cpusAllowed(opts.brokerPid)), countCpus(cpusAllowed('self'))));
  const result: ScenarioResult = { scenario: opts.scenario, generatorCpus: cpusAllowed('self'), ...outcome };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`generator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
