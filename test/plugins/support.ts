/**
 * Helpers of the bundled-plugin tests (test/plugins/): a temporary directory,
 * atomic file rewrites, CONNACK codes through mqtt.js and bounded polling
 * (running the `shoal` CLI is test/helpers/cli.ts). Runs in the test process.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeClient, connectClient, WAIT_MS, type ConnectOptions } from '../helpers/clients.js';

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
