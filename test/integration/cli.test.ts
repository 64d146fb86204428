/**
 * Integration: the `shoal` command as a user runs it — `--help`, a config
 * field error naming the field, and a broker started from the CLI that
 * serves MQTT and stops gracefully on SIGTERM and SIGINT (5.0 clients get
 * DISCONNECT 0x8B, the process exits 0).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectClient, nextMessage, once, uniqueId, uniqueTopic } from '../helpers/clients.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BOUND_MS = 15_000;

interface Run { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

function run(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
  void exited.then(() => clearTimeout(timer));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for pino's "listening" record and returns its port. */
async function listeningPort(r: Run): Promise<number> {
  const deadline = Date.now() + BOUND_MS;
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

describe('shoal CLI', () => {
  test('--help prints the options and exits 0', async () => {
    const r = run(['--help']);
    assert.equal(await r.exited, 0);
    for (const flag of ['--port', '--host', '--workers', '--config', '--log-level']) assert.match(r.stdout(), new RegExp(flag));
  });

  test('an invalid config value stops it with an error naming the field', async () => {
    const r = run(['--port', '0', '--workers=-1']);
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), /config\.workers/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`serves MQTT and stops gracefully on ${signal}`, async () => {
      const r = run(['--port', '0', '--workers', '1', '--log-level', 'info']);
      const port = await listeningPort(r);
      const sub = await connectClient(port, { version: 5, clientId: uniqueId('cli') });
      const pub = await connectClient(port, { version: 4, clientId: uniqueId('cli') });
      const topic = uniqueTopic('cli');
      await sub.subscribeAsync(topic, { qos: 1 });
      await pub.publishAsync(topic, 'via cli', { qos: 1 });
      assert.equal((await nextMessage(sub, (m) => m.topic === topic)).payload.toString(), 'via cli');
      const disconnect = once<[{ reasonCode?: number }]>(sub, 'disconnect', BOUND_MS);
      r.child.kill(signal);
      const [packet] = await disconnect;
      assert.equal(packet.reasonCode, 0x8b, 'Server shutting down');
      assert.equal(await r.exited, 0);
      pub.end(true);
      sub.end(true);
    });
  }
});
