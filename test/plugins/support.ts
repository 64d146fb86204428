/**
 * Helpers of the bundled-plugin tests (test/plugins/): a temporary directory,
 * atomic file rewrites, CONNACK codes through mqtt.js, bounded polling and
 * running the `shoal` CLI as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeClient, connectClient, WAIT_MS, type ConnectOptions } from '../helpers/clients.js';

/** dist/src/cli/main.js, from dist/test/plugins/. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `shoal-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Replaces `file` atomically (write beside it, rename), as an editor or `shoal passwd` does. */
export function replaceFile(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/** The CONNACK code a client gets (3.1.1 return code / 5.0 reason code; 0 = accepted); the accepted client is closed. */
export async function connackCode(port: number, opts: ConnectOptions): Promise<number> {
  try {
    const client = await connectClient(port, opts);
    await closeClient(client);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

/** Calls `attempt` until it returns true, with a short pause between tries; rejects after `boundMs`. */
export async function eventually(what: string, attempt: () => Promise<boolean>, boundMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await attempt()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `node dist/src/cli/main.js ...args` with `stdin` as its input; resolves with its exit code and stderr. */
export function runCli(args: string[], stdin = ''): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => { child.kill(); reject(new Error(`shoal ${args.join(' ')}: no exit within ${WAIT_MS} ms`)); }, WAIT_MS);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
    child.stdin.end(stdin);
  });
}

export interface CliRun { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

/** Starts `node dist/src/cli/main.js ...args` as a server; killed after `boundMs` at the latest. */
export function startCli(args: string[], boundMs = 30_000): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  void exited.then(() => clearTimeout(timer));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for pino's "listening" record of a CLI run and returns its port. */
export async function listeningPort(r: CliRun, boundMs = 15_000): Promise<number> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const line = r.stdout().split('\n').find((l) => l.includes('"msg":"listening"'));
    if (line) return (JSON.parse(line) as { port: number }).port;
    if (Date.now() > deadline) throw new Error(`no "listening" log line; stderr: ${r.stderr()}`);
    const stdout = r.child.stdout;
    if (!stdout || stdout.readableEnded) throw new Error(`exited without listening; stderr: ${r.stderr()}`);
    await new Promise((resolve) => {
      stdout.once('data', resolve);
      stdout.once('end', resolve);
    });
  }
}
