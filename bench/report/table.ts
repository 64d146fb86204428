/**
 * Plain-text rendering of a bench report for the terminal (bench/cli.ts,
 * orchestrator process): the environment header, one row per scenario metric
 * with a column per broker and ratio columns (subject ÷ each other broker
 * kind), the generators' and brokers' peak CPU per scenario, then the notes,
 * errors and the worker-count recommendation. A number measured while a
 * load generator sat above GENERATOR_BOUND_PCT of its core (or several
 * together above that share of their CPUs) is marked `*`: it says more about
 * the generator than about the broker.
 */
import { countCpus } from '../load/measure.js';
import { GENERATOR_BOUND_PCT, SHARDED_SCENARIOS, type PhaseStats, type ScenarioName } from '../load/result.js';
import { findMetric, metricCatalogue, type BenchReport, type RunRecord } from './model.js';
import type { ThreadCost } from '../peers/thread-sampler.js';

/** 1-minute load average above which the header warns that the machine was not quiet. */
const BUSY_LOAD = 0.5;

/** The generators' CPU together in a phase (% of one core): their sum with several, else the one's. */
function generatorsCpuPct(phase: PhaseStats): number {
  return phase.generatorCpuPcts === undefined ? phase.generatorCpuPct : phase.generatorCpuPcts.reduce((a, b) => a + b, 0);
}

/**
 * The phases of `run` in which a generator sat above GENERATOR_BOUND_PCT of
 * its core, or several generators together above that share of the CPUs they
 * were allowed.
 */
export function generatorBoundPhases(run: RunRecord | undefined): string[] {
  const result = run?.result;
  if (result === undefined || result === null) return [];
  const cpus = countCpus(result.generatorCpus.split(' | ')[0] ?? '');
  return result.phases
    .filter((p) => p.generatorCpuPct > GENERATOR_BOUND_PCT || generatorsCpuPct(p) > GENERATOR_BOUND_PCT * cpus)
    .map((p) => p.name);
}

/** Thousands separators from 1,000 up; three significant digits below. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

function pad(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function runOf(report: BenchReport, scenario: ScenarioName, label: string): RunRecord | undefined {
  return report.runs.find((r) => r.scenario === scenario && r.target.label === label);
}

/** The cell of a broker that has no value for a metric: why not. */
function missingCell(run: RunRecord | undefined): string {
  if (run === undefined) return '';
  if (run.skipped !== null) return 'skipped';
  if (run.error !== null) return 'error';
  return '–';
}

function ratioColumns(report: BenchReport): string[] {
  const subject = report.ratioSubject;
  if (subject === null) return [];
  const kind = report.runs.find((r) => r.target.label === subject)?.target.kind;
  return report.brokers.filter((label) => label !== subject && report.runs.find((r) => r.target.label === label)?.target.kind !== kind);
}

function cpuRow(
  report: BenchReport,
  scenario: ScenarioName,
  label: string,
  pick: (p: PhaseStats) => number | null,
  width: number,
): string[] {
  const cells = report.brokers.map((broker) => {
    const phases = runOf(report, scenario, broker)?.result?.phases ?? [];
    const values = phases.map(pick).filter((v): v is number => v !== null);
    return values.length === 0 ? '–' : formatNumber(Math.max(...values));
  });
  return [`  ${label}`, '%', '', ...cells, ...Array<string>(width).fill('')];
}

/** CPU rows of a scenario: the busiest generator, all generators together where there were several, the broker. */
function cpuRows(report: BenchReport, scenario: ScenarioName, width: number): string[][] {
  const phases = report.runs.filter((r) => r.scenario === scenario).flatMap((r) => r.result?.phases ?? []);
  const several = phases.find((p) => (p.generatorCpuPcts?.length ?? 1) > 1)?.generatorCpuPcts?.length;
  return [
    cpuRow(
      report,
      scenario,
      several === undefined ? 'generator CPU, busiest phase' : 'busiest generator CPU, busiest phase',
      (p) => p.generatorCpuPct,
      width,
    ),
    ...(several === undefined
      ? []
      : [cpuRow(report, scenario, `${several} generators' CPU together, busiest phase`, generatorsCpuPct, width)]),
    cpuRow(report, scenario, 'broker CPU, busiest phase', (p) => p.brokerCpuPct, width),
  ];
}

/** Shoal's busy time per message by thread and the speed-up bound it implies (bench/peers/thread-sampler.ts); none when no run has them. */
function threadRows(report: BenchReport, scenario: ScenarioName, width: number): string[][] {
  const costs = report.brokers.map((broker) => runOf(report, scenario, broker)?.threads ?? null);
  if (costs.every((c) => c === null)) return [];
  const row = (label: string, unit: string, pick: (c: ThreadCost) => number): string[] => [
    `  ${label}`,
    unit,
    '',
    ...costs.map((c) => (c === null ? '' : formatNumber(pick(c)))),
    ...Array<string>(width).fill(''),
  ];
  const unit = { publish: 'PUBLISH in', delivery: 'delivery', connect: 'connect' }[costs.find((c) => c !== null)?.unit ?? 'delivery'];
  return [
    row(`main thread busy per ${unit}, whole scenario`, 'µs', (c) => c.mainUsPerMessage),
    row(`actor hosts busy per ${unit}, whole scenario`, 'µs', (c) => c.hostsUsPerMessage),
    row('speed-up bound, any worker count (Amdahl)', '×', (c) => c.speedupBound),
  ];
}

export function formatTable(report: BenchReport): string {
  const ratios = ratioColumns(report);
  const subject = report.ratioSubject;
  const header = ['scenario / metric', 'unit', 'better', ...report.brokers, ...ratios.map((other) => `${subject} ÷ ${other}`)];
  const rows: string[][] = [header];
  const catalogue = metricCatalogue(report.runs, report.settings.scenarios);
  for (const scenario of report.settings.scenarios) {
    rows.push([scenario]);
    for (const { metric } of catalogue.filter((c) => c.scenario === scenario)) {
      const cells = report.brokers.map((label) => {
        const m = findMetric(report.runs, scenario, label, metric.key);
        const run = runOf(report, scenario, label);
        if (m === undefined) return missingCell(run);
        return `${formatNumber(m.value)}${generatorBoundPhases(run).length > 0 ? '*' : ''}`;
      });
      const ratioCells = ratios.map((other) => {
        const a = subject === null ? undefined : findMetric(report.runs, scenario, subject, metric.key)?.value;
        const b = findMetric(report.runs, scenario, other, metric.key)?.value;
        return a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
      });
      rows.push([`  ${metric.label}`, metric.unit, metric.better === 'higher' ? '↑' : '↓', ...cells, ...ratioCells]);
    }
    rows.push(...cpuRows(report, scenario, ratios.length));
    rows.push(...threadRows(report, scenario, ratios.length));
  }
  return pad(rows);
}

export function formatHeader(report: BenchReport): string {
  const { environment: env, settings } = report;
  const pinning = settings.pinned
    ? `broker CPUs ${settings.brokerCpus}, generator CPUs ${settings.generatorCpus}`
    : 'unpinned (taskset not found)';
  return [
    `CPU: ${env.cpuModel} × ${env.logicalCpus} · ${env.kernel} · Node ${env.node} · commit ${env.commit}`,
    `Pinning: ${pinning} · ${settings.durationS} s per measured phase · ${settings.payloadBytes} B payloads · MQTT 3.1.1`,
    `Generators: ${settings.generators} process${settings.generators === 1 ? '' : 'es'} for ${SHARDED_SCENARIOS.join(' and ')}, one for the other scenarios`,
    `Load average at start: ${env.loadAverage}${env.loadAverage > BUSY_LOAD ? ' (other processes are using the CPUs: expect noisy numbers)' : ''}`,
  ].join('\n');
}

/** Notes, errors and skips per run, and the recommendation, one item per line. */
export function formatFindings(report: BenchReport): string {
  const lines: string[] = [];
  for (const run of report.runs) {
    const where = `${run.scenario} · ${run.target.label}`;
    if (run.skipped !== null) lines.push(`skipped ${where}: ${run.skipped}`);
    if (run.error !== null) lines.push(`error ${where}: ${run.error}`);
    for (const note of run.result?.notes ?? []) lines.push(`note ${where}: ${note}`);
    const bound = generatorBoundPhases(run);
    if (bound.length > 0)
      lines.push(
        `* generator-bound ${where}: a generator sat above ${GENERATOR_BOUND_PCT}% of its core, or the generators together above ${GENERATOR_BOUND_PCT}% of their CPUs, in ${bound.join(', ')}`,
      );
  }
  const brokerCpus = new Set(report.runs.flatMap((r) => (r.brokerCpus === null ? [] : [r.brokerCpus])));
  const generatorCpus = new Set(report.runs.flatMap((r) => (r.result === null ? [] : [r.result.generatorCpus])));
  lines.push(
    `measured affinity (/proc Cpus_allowed_list): brokers on CPUs ${[...brokerCpus].join(' | ') || '?'}, generators on CPUs ${[...generatorCpus].join(' | ') || '?'}`,
  );
  const rec = report.recommendation;
  if (rec !== null) lines.push(`recommended --workers ${rec.workers}: ${rec.reason}`);
  return lines.join('\n');
}
