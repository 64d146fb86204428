/**
 * Runner of the micro-benchmarks (`npm run bench:micro`, i.e.
 * `node dist/bench/micro/run.js`): registers every `*.bench.ts` module in one
 * tinybench Bench (about 500 ms per task after a 250 ms warm-up), runs the
 * tasks one after another on this process's main thread (some tasks start
 * their own worker thread), and prints one row per task: ops/s, mean and
 * median (p50) time per iteration, and for tasks whose iteration covers many
 * items (messages, calls) the items/s and the mean and median time per item;
 * then the sample count and the relative margin of error of the mean. On a
 * shared machine the median is the steadier figure.
 *
 *   --filter SUBSTR  run only tasks whose name contains SUBSTR (may repeat: any matches)
 *   --json FILE      also write the results as JSON to FILE
 *   --large          add the 1M-subscription trie (seconds to build, ~800 MB)
 *   --time MS        time budget per task (default 500)
 *
 * ops/s is iterations ÷ total measured time (1000 / mean latency), so for a
 * task of N messages per iteration msgs/s = N × ops/s.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { Bench, type Task } from 'tinybench';
import { register as registerBatchTransfer } from './batch-transfer.bench.js';
import { register as registerCodec } from './codec.bench.js';
import { register as registerRoute } from './route.bench.js';
import { itemsOf, runCleanups } from './task-info.js';
import { register as registerTokenBucket } from './token-bucket.bench.js';
import { register as registerTopicTrie } from './topic-trie.bench.js';
import { register as registerWatch } from './watch.bench.js';

interface RunOptions {
  filters: string[];
  json: string | undefined;
  large: boolean;
  time: number;
}

type Register = (bench: Bench, options: { large: boolean }) => Promise<void>;

const MODULES: ReadonlyArray<[string, Register]> = [
  ['codec', registerCodec],
  ['topic-trie', registerTopicTrie],
  ['token-bucket', registerTokenBucket],
  ['batch-transfer', registerBatchTransfer],
  ['route', registerRoute],
  ['watch', registerWatch],
];

const WARMUP_MS = 250;
/** A task that makes no progress for this long (plus its time budget) is reported and the run stops. */
const STALL_MS = 60_000;

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: run.js [--filter SUBSTR]... [--json FILE] [--large] [--time MS]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): RunOptions {
  const options: RunOptions = { filters: [], json: undefined, large: false, time: 500 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--filter':
        options.filters.push(value());
        break;
      case '--json':
        options.json = value();
        break;
      case '--large':
        options.large = true;
        break;
      case '--time': {
        const ms = Number(value());
        if (!Number.isFinite(ms) || ms <= 0) usage('--time needs a positive number of milliseconds');
        options.time = ms;
        break;
      }
      case '--help':
      case '-h':
        usage('');
      // falls through (usage exits)
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return options;
}

/** `ms` as a short duration with a unit. */
function duration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(2)} µs`;
  return `${(ms * 1e6).toFixed(1)} ns`;
}

function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(1);
}

interface Row {
  task: string;
  state: string;
  error?: string;
  opsPerSec?: number;
  meanMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  rmePercent?: number;
  samples?: number;
  itemsPerIteration?: number;
  itemUnit?: string;
  itemsPerSec?: number;
  msPerItem?: number;
}

function rowOf(task: Task): Row {
  const r = task.result;
  if (r.state === 'errored') return { task: task.name, state: r.state, error: r.error.message };
  if (r.state !== 'completed' && r.state !== 'aborted-with-statistics') return { task: task.name, state: r.state };
  const { latency } = r;
  const row: Row = {
    task: task.name,
    state: r.state,
    opsPerSec: 1000 / latency.mean,
    meanMs: latency.mean,
    p50Ms: latency.p50,
    p99Ms: latency.p99,
    rmePercent: latency.rme,
    samples: latency.samplesCount,
  };
  const items = itemsOf(task.name);
  if (items && items.count > 1) {
    row.itemsPerIteration = items.count;
    row.itemUnit = items.unit;
    row.itemsPerSec = (1000 / latency.mean) * items.count;
    row.msPerItem = latency.mean / items.count;
  }
  return row;
}

function printTable(rows: readonly Row[]): void {
  const header = ['task', 'ops/s', 'time/op', 'p50/op', 'items/s', 'time/item', 'p50/item', 'samples', '±rme'];
  const lines = rows.map((row) => {
    if (row.meanMs === undefined) return [row.task, row.state.toUpperCase(), row.error ?? '', '', '', '', '', '', ''];
    const n = row.itemsPerIteration;
    return [
      row.task,
      rate(row.opsPerSec as number),
      duration(row.meanMs),
      duration(row.p50Ms as number),
      n ? `${rate(row.itemsPerSec as number)} ${row.itemUnit}/s` : '',
      n ? `${duration(row.msPerItem as number)}/${row.itemUnit}` : '',
      n ? `${duration((row.p50Ms as number) / n)}/${row.itemUnit}` : '',
      String(row.samples),
      `±${(row.rmePercent as number).toFixed(2)}%`,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => (l[c] as string).length)));
  const left = new Set([0]);
  const fmt = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (left.has(c) ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${fmt(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const line of lines) process.stdout.write(`${fmt(line)}\n`);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const bench = new Bench({ time: options.time, warmup: true, warmupTime: WARMUP_MS });

  for (const [, register] of MODULES) await register(bench, { large: options.large });
  if (options.filters.length > 0) {
    for (const task of [...bench.tasks]) {
      if (!options.filters.some((f) => task.name.includes(f))) bench.remove(task.name);
    }
  }
  const total = bench.tasks.length;
  if (total === 0) usage(`no task matches ${options.filters.map((f) => JSON.stringify(f)).join(' or ')}`);

  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  process.stderr.write(
    `node ${process.version}, ${availableParallelism()} CPUs (${cpuModel}); ${total} tasks, ${options.time} ms each after ${WARMUP_MS} ms warm-up\n`,
  );
  let done = 0;
  let lastProgress = Date.now();
  bench.addEventListener('cycle', (e) => {
    lastProgress = Date.now();
    const row = rowOf(e.task);
    const summary = row.meanMs === undefined ? row.state : `${duration(row.meanMs)}/op`;
    process.stderr.write(`  [${++done}/${total}] ${e.task.name}: ${summary}\n`);
  });
  const stallMs = STALL_MS + WARMUP_MS + 2 * options.time;
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress < stallMs) return;
    process.stderr.write(`task ${done + 1} of ${total} made no progress for ${Math.round(stallMs / 1000)} s; stopping\n`);
    process.exit(1);
  }, 1000);
  watchdog.unref();

  const started = Date.now();
  await bench.run();
  clearInterval(watchdog);
  await runCleanups();

  const rows = bench.tasks.map(rowOf);
  process.stdout.write('\n');
  printTable(rows);
  const failed = rows.filter((r) => r.meanMs === undefined);
  for (const row of failed) process.stderr.write(`\n${row.task}: ${row.state}${row.error ? `: ${row.error}` : ''}\n`);
  process.stderr.write(`\n${total} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  if (options.json) {
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      cpuModel,
      options: { filters: options.filters, large: options.large, timeMs: options.time, warmupMs: WARMUP_MS },
      tasks: rows,
    };
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`results written to ${options.json}\n`);
  }
  process.exitCode = failed.length > 0 ? 1 : 0;
}

await main();
