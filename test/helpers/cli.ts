/**
 * Test helper for the `shoal` command: runs dist/src/main/cli/main.js (or an
 * installed `shoal`) as a child
 * process of the test process, either to completion with some input (runCli)
 * or as a server (startCli, with listeningPort to wait for its TCP listener
 * and outputMatch for any line of its output), each bounded so a stuck
 * child never outlives its test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WAIT_MS } from './clients.js';

/** dist/src/main/cli/main.js, from dist/test/helpers/. */
export const CLI = fileURLToPath(new URL('../../src/main/cli/main.js', import.meta.url));

/** Runs `node dist/src/main/cli/main.js ...args` with `stdin` as its input; resolves with its exit code and stderr. */
export function runCli(args: string[], stdin = ''): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`shoal ${args.join(' ')}: no exit within ${WAIT_MS} ms`));
    }, WAIT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    child.stdin.end(stdin);
  });
}

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export interface CliOptions {
  /** Killed after this long at the latest (default 30 s). */
  boundMs?: number;
  /** Working directory (default the test's). */
  cwd?: string;
  /** The largest file the process may write, in bytes (RLIMIT_FSIZE, set by `ulimit -f`; SIGXFSZ ignored, so a write past it fails). */
  maxFileBytes?: number;
  /** Environment variables set beside the test's own. */
  env?: Record<string, string>;
  /** The command to run instead of `node dist/src/main/cli/main.js`, such as the `shoal` an npm install linked in node_modules/.bin. */
  executable?: string;
}

/** Starts `node dist/src/main/cli/main.js ...args` with its output collected. */
export function startCli(args: string[], { boundMs = 30_000, cwd, maxFileBytes, env, executable }: CliOptions = {}): CliRun {
  const [file, ...rest] = executable === undefined ? [process.execPath, CLI, ...args] : [executable, ...args];
  const command: [string, string[]] =
    maxFileBytes === undefined
      ? [file!, rest]
      : // POSIX `ulimit -f` counts 512-byte blocks.
        ['sh', ['-c', `trap '' XFSZ; ulimit -f ${Math.ceil(maxFileBytes / 512)}; exec "$0" "$@"`, file!, ...rest]];
  const child = spawn(command[0], command[1], { stdio: ['ignore', 'pipe', 'pipe'], cwd, env: { ...process.env, ...env } });
  let out = '',
    err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  void exited.then(() => clearTimeout(timer));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until the output of a CLI run matches `pattern` (checked at each chunk it writes) and returns the match. */
export async function outputMatch(r: CliRun, pattern: RegExp, boundMs = 15_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const match = pattern.exec(r.stdout());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no output matching ${pattern}; stderr: ${r.stderr()}`);
    const stdout = r.child.stdout;
    if (!stdout || stdout.readableEnded) throw new Error(`exited without output matching ${pattern}; stderr: ${r.stderr()}`);
    await new Promise((resolve) => {
      stdout.once('data', resolve);
      stdout.once('end', resolve);
    });
  }
}

/** Waits for pino's "listening" record of a CLI run (JSON lines) and returns its port. */
export async function listeningPort(r: CliRun, boundMs = 15_000): Promise<number> {
  const [line] = await outputMatch(r, /^.*"msg":"listening".*$/m, boundMs);
  return (JSON.parse(line) as { port: number }).port;
}
