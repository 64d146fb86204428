/**
 * Test helper: a real `nats-server` (Debian's package; JetStream on, its
 * store in a temporary directory, unless asked otherwise) on 127.0.0.1 and a free port, started by
 * the test itself, with stop (SIGTERM), kill (SIGKILL) and a restart on
 * the same port and store. Each start is bounded; the process is killed
 * when the test process exits. Outside CI, tests skip without it (natsSkip). Runs in the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipWithout } from './ci.js';
import { withBound } from './clients.js';
import { natsReadyPort } from '../../bench/peers/nats-server.js';

const START_BOUND_MS = 10_000;

/** The `skip` option of tests that start nats-server: a reason when it is not installed outside CI, else false. */
export const natsSkip = skipWithout('nats-server', ['--version'], 'apt-get install nats-server');

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGTERM) and waits for its exit. */
  stop(): Promise<void>;
  /** Kills it (SIGKILL) and waits for its exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Stops it and removes its store. */
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts nats-server; `jetstream: false` leaves JetStream off (default on). */
export async function startNats({ jetstream = true }: { jetstream?: boolean } = {}): Promise<NatsServer> {
  const store = mkdtempSync(join(tmpdir(), 'shoal-nats-'));
  let child = await spawnNats(store, -1, jetstream);
  const port = child.port;
  const exit = async (signal: NodeJS.Signals): Promise<void> => {
    const { process: proc } = child;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await withBound(exited, START_BOUND_MS, 'nats-server to exit');
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: () => exit('SIGTERM'),
    kill: () => exit('SIGKILL'),
    restart: async () => {
      child = await spawnNats(store, port, jetstream);
    },
    close: async () => {
      await exit('SIGTERM');
      rmSync(store, { recursive: true, force: true });
    },
  };
}

async function spawnNats(store: string, port: number, jetstream: boolean): Promise<{ process: ChildProcess; port: number }> {
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(jetstream ? ['-js', '-sd', store] : [])];
  const proc = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  return { process: proc, port: await natsReadyPort(proc, START_BOUND_MS) };
}
