/**
 * Measurement helpers for the load generator process (bench/load/generator.ts):
 * per-phase CPU of this process (process.cpuUsage) and of the broker's
 * processes (/proc/<pid>/stat), their main threads' run-queue wait (/proc/<pid>/schedstat:
 * time runnable but kept off the CPU by other work), broker RSS (/proc/<pid>/status VmRSS), open-file limits
 * (/proc/<pid>/limits), latency samples and percentiles, and the small
 * waiting primitives the scenarios share. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { PhaseStats } from './result.js';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicksPerSecond();

/** utime + stime of a whole process (all threads), in ms; null when unreadable. */
export function processCpuMs(pid: number): number | null {
  if (pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * Time the process's main thread spent runnable but waiting for a CPU, in ms
 * (second field of /proc/<pid>/schedstat); null when unreadable.
 */
export function runQueueWaitMs(pid: number | 'self'): number | null {
  if (pid !== 'self' && pid <= 0) return null;
  try {
    const wait = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(wait) ? wait / 1e6 : null;
  } catch {
    return null;
  }
}

function statusField(pid: number | 'self', field: string): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line === undefined ? null : line.slice(field.length + 1).trim();
  } catch {
    return null;
  }
}

/** The sum of `read` over the processes `pids`; null when there are none or one is unreadable. */
export function sumOver(pids: readonly number[], read: (pid: number) => number | null): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) {
    const value = read(pid);
    if (value === null) return null;
    total += value;
  }
  return total;
}

/** Resident set size in KiB; null when unreadable. */
export function rssKiB(pid: number): number | null {
  const value = pid > 0 ? statusField(pid, 'VmRSS') : null;
  return value === null ? null : parseInt(value, 10);
}

export function cpusAllowed(pid: number | 'self'): string {
  return statusField(pid, 'Cpus_allowed_list') ?? 'unknown';
}

/** Number of CPUs in a list such as "0-1,3"; 1 when unparsable. */
export function countCpus(list: string): number {
  let n = 0;
  for (const part of list.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    if (lo === undefined || !Number.isInteger(lo)) return 1;
    n += hi === undefined ? 1 : Number.isInteger(hi) ? hi - lo + 1 : 1;
  }
  return Math.max(1, n);
}

/** Soft limit on open files ("Max open files" in /proc/<pid>/limits); null when unreadable. */
export function openFileLimit(pid: number | 'self'): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? null : Number(soft);
  } catch {
    return null;
  }
}

/**
 * Wall time, CPU and run-queue wait of the generator and the broker over one
 * phase. A broker of several processes (a cluster) counts their CPU together,
 * each one's beside it, and the longest wait of their main threads.
 */
export class Phase {
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private readonly broker0: (number | null)[];
  private readonly brokerWait0: (number | null)[];
  private readonly ownWait0 = runQueueWaitMs('self');

  constructor(
    private readonly name: string,
    private readonly brokerPids: readonly number[],
  ) {
    this.broker0 = brokerPids.map(processCpuMs);
    this.brokerWait0 = brokerPids.map(runQueueWaitMs);
  }

  end(detail: PhaseStats['detail'] = {}): PhaseStats {
    const wallMs = performance.now() - this.t0;
    const cpu = process.cpuUsage(this.cpu0);
    const pct = (ms: number): number => Math.round((ms / wallMs) * 1000) / 10;
    const delta = (before: number | null | undefined, after: number | null): number | null =>
      before === null || before === undefined || after === null ? null : pct(after - before);
    const brokerCpus = this.brokerPids.map((pid, i) => delta(this.broker0[i], processCpuMs(pid)));
    const brokerWaits = this.brokerPids.map((pid, i) => delta(this.brokerWait0[i], runQueueWaitMs(pid)));
    const known = (values: (number | null)[]): number[] | null =>
      values.length === 0 || values.includes(null) ? null : (values as number[]);
    const cpus = known(brokerCpus);
    const waits = known(brokerWaits);
    return {
      name: this.name,
      wallMs: Math.round(wallMs),
      generatorCpuPct: pct((cpu.user + cpu.system) / 1000),
      brokerCpuPct: cpus === null ? null : Math.round(cpus.reduce((a, b) => a + b, 0) * 10) / 10,
      ...(brokerCpus.length > 1 ? { brokerCpuPcts: brokerCpus } : {}),
      generatorWaitPct: delta(this.ownWait0, runQueueWaitMs('self')),
      brokerWaitPct: waits === null ? null : Math.max(...waits),
      detail,
    };
  }
}

/** Growable store of latency samples in ms. */
export class LatencySamples {
  private data = new Float64Array(1 << 16);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  /** Adds every sample of `ms`. */
  addAll(ms: readonly number[]): void {
    for (const v of ms) this.add(v);
  }

  /** The samples rounded to µs, as plain numbers for a JSON report. */
  rounded(): number[] {
    return Array.from(this.data.subarray(0, this.n), (v) => Math.round(v * 1000) / 1000);
  }

  /** Nearest-rank percentiles (p in 0..100) of the samples, in ms; NaN when empty. */
  percentiles(ps: number[]): number[] {
    const sorted = this.data.slice(0, this.n).sort();
    return ps.map((p) => {
      if (this.n === 0) return NaN;
      const rank = Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1));
      return sorted[rank] as number;
    });
  }
}

/**
 * Resolves once `count()` reaches `target`, or has not changed for `quietMs`,
 * or `maxMs` has passed. Returns the final count.
 */
export async function waitSettled(count: () => number, target: number, quietMs: number, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = count();
  let lastChange = performance.now();
  while (last < target && performance.now() < deadline) {
    await sleep(20);
    const now = count();
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange >= quietMs) break;
  }
  return count();
}

/** Polls `done()` every 20 ms; resolves true once it holds, false after `maxMs`. */
export async function waitUntil(done: () => boolean, maxMs: number): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  while (!done()) {
    if (performance.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Sample length, and broker CPU (% of one core) below which the broker counts as idle. */
const IDLE_SAMPLE_MS = 250;
const IDLE_CPU_PCT = 10;

/**
 * Waits until the broker has worked off any backlog: over one IDLE_SAMPLE_MS
 * sample, `count()` (deliveries) did not change and the broker's processes
 * together used under IDLE_CPU_PCT of a core (without readable pids, only the
 * count is checked). Returns false if `maxMs` passed first.
 */
export async function waitBrokerIdle(brokerPids: readonly number[], count: () => number, maxMs: number): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    const n0 = count();
    const cpu0 = sumOver(brokerPids, processCpuMs);
    await sleep(IDLE_SAMPLE_MS);
    const cpu1 = sumOver(brokerPids, processCpuMs);
    const busy = cpu0 !== null && cpu1 !== null && ((cpu1 - cpu0) / IDLE_SAMPLE_MS) * 100 >= IDLE_CPU_PCT;
    if (count() === n0 && !busy) return true;
  }
  return false;
}
