/**
 * The nats-server of a Shoal cluster under test, for the bench orchestrator
 * (bench/cli.ts, parent process, through bench/peers/brokers.ts): started
 * pinned to the broker CPUs on 127.0.0.1 with JetStream on (its store in a
 * fresh temporary directory), a client port of its own choosing (read from
 * its log) and its monitoring endpoint on a given port (`-m`), whose `/varz`
 * the load generator reads (bench/load/nats-traffic.ts). natsReadyPort,
 * the wait for a started nats-server to be ready, serves the tests too
 * (test/helpers/nats.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnPinned, stopProcess, tail } from './process.js';

/** How long nats-server may take to say it is ready. */
const READY_TIMEOUT_MS = 15_000;
const LISTENING = /Listening for client connections on [^\s]+:(\d+)/;

export interface RunningNats {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  pid: number;
  monitorPort: number;
  stop(): Promise<void>;
  /** How the process ended, or null while it runs. */
  exitStatus(): string | null;
  /** The last few KiB of its log. */
  output(): string;
}

/**
 * Resolves with the client port of the nats-server `child` once its log
 * says it is ready; rejects when it fails to start, exits, or is not ready
 * within `timeoutMs`.
 */
export function natsReadyPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server not ready after ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    child.once('error', (err) => fail(new Error(`nats-server could not start (is Debian's nats-server installed?): ${err.message}`)));
    child.once('exit', (code) => fail(new Error(`nats-server exited with ${code}: ${log}`)));
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const listening = LISTENING.exec(log);
      if (listening === null || !log.includes('Server is ready')) return;
      clearTimeout(timer);
      resolve(Number(listening[1]));
    });
  });
}

/** Starts `bin` pinned to `cpus`; resolves once it is ready for clients. */
export async function startNats(bin: string, cpus: string, host: string, monitorPort: number): Promise<RunningNats> {
  const store = mkdtempSync(join(tmpdir(), 'shoal-bench-nats-'));
  const child = spawnPinned(cpus, bin, ['-a', host, '-p', '-1', '-m', String(monitorPort), '-js', '-sd', store]);
  const output = tail(child.stderr);
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    rmSync(store, { recursive: true, force: true });
  };
  try {
    const port = await natsReadyPort(child, READY_TIMEOUT_MS);
    const exitStatus = (): string | null =>
      child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : null;
    return { url: `nats://${host}:${port}`, pid: child.pid ?? 0, monitorPort, stop, exitStatus, output };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output()}`, { cause: err });
  }
}
