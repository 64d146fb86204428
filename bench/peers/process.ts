/**
 * Child-process plumbing for the bench orchestrator (bench/cli.ts, parent
 * process): spawning a command pinned to a CPU list with `taskset -c`, with
 * the open-file soft limit raised to the hard limit by a `sh` wrapper (the
 * connection storm needs over 10,000 descriptors on each side); waiting for a
 * TCP port to accept; stopping a child with SIGTERM then SIGKILL.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

function hasTaskset(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
/** Whether pinning is possible; without taskset children run unpinned (the run's metadata says so). */
export const TASKSET_AVAILABLE = hasTaskset();

/** `ulimit -n` soft := hard, then exec the rest of the arguments (pid stays the same). */
const RAISE_NOFILE = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

/** Spawns `command args` pinned to `cpus`; the returned child's pid is the command's own pid. */
export function spawnPinned(cpus: string, command: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const pinned = TASKSET_AVAILABLE ? ['taskset', '-c', cpus, command, ...args] : [command, ...args];
  return spawn('sh', ['-c', RAISE_NOFILE, 'sh', ...pinned], { stdio: [stdin, 'pipe', 'pipe'] });
}

/** Keeps the last `max` characters of a stream, for error messages. */
export function tail(stream: NodeJS.ReadableStream | null, max = 4000): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-max);
  });
  return () => text;
}

function tryConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls a TCP connect every 50 ms until it succeeds, the child exits, or `timeoutMs` passes. */
export async function waitForPort(child: ChildProcess, port: number, host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before accepting on port ${port}`);
    }
    if (await tryConnect(port, host)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not accepting on ${host}:${port} after ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A free TCP port on 127.0.0.1, found by listening on port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
