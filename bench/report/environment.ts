/**
 * The machine and code a bench run measured, for the header of the result
 * table and the JSON report (bench/cli.ts, orchestrator process): CPU model
 * and count, kernel, Node version, the git commit (read-only git calls) and
 * the load average, which tells whether other processes shared the CPUs.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Environment {
  date: string;
  cpuModel: string;
  logicalCpus: number;
  kernel: string;
  node: string;
  commit: string;
  /** 1-minute load average when the run started: above about 0.5, other processes shared the CPUs. */
  loadAverage: number;
}

function gitCommit(): string {
  const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain') === '' ? head : `${head} (with uncommitted changes)`;
  } catch {
    return 'none (not a git checkout, or no commit yet)';
  }
}

export function describeEnvironment(): Environment {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    logicalCpus: cpus.length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: gitCommit(),
    loadAverage: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}
