/**
 * Restart cost of a data directory (`npm run bench:restart`, i.e.
 * `node dist/bench/persistence/restart.js`): fills a fresh data directory
 * through the `shoal` command itself (persistent 3.1.1 sessions subscribed
 * to one topic and then disconnected, QoS 1 messages published to it so that
 * every session queues each one, retained messages on distinct topics), stops
 * it, reads the LMDB figures (bytes per queued and per retained message),
 * then restarts the command on that directory at each worker count and
 * times: the "listening" log line, the CONNACK of a returning session (with
 * session present) and its first queued message (another session each time). Runs in its own process;
 * the broker is a child process.
 *
 *   --sessions N     persistent sessions (default 10000)
 *   --queued N       messages queued for each (default 100)
 *   --retained N     retained messages (default 100000)
 *   --workers LIST   worker counts to restart with (default 0,1)
 *   --json FILE      also write the results as JSON
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { open } from 'lmdb';
import mqtt from 'mqtt';
import { connectMany } from '../load/client.js';
import { LMDB_DIR, LMDB_OPTIONS, SUB_DATABASES } from '../../src/shared/store/layout.js';

const CLI = fileURLToPath(new URL('../../src/main/cli/main.js', import.meta.url));
const QUEUE_TOPIC = 'restart/queue';
const PAYLOAD = Buffer.alloc(16, 0x61);
/** Lifts the per-client publish rate limit and the offline queue bound, so that filling is not throttled or trimmed. */
const CONFIG = { maxIncomingMessagesRate: 1e9, maxIncomingMessagesBurst: 1e9, maxOfflineMessages: 100_000, maxInflightMessages: 1000 };

interface Options {
  sessions: number;
  queued: number;
  retained: number;
  workers: number[];
  json: string | undefined;
}

interface Broker {
  child: ChildProcess;
  port: Promise<number>;
  exited: Promise<number | null>;
}

function startBroker(dataDir: string, configFile: string, workers: number): Broker {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--workers', String(workers), '--data-dir', dataDir, '--config', configFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then((code) => reject(new Error(`the broker exited (${code}) before listening`)));
  });
  return { child, port, exited };
}

async function stopBroker(broker: Broker): Promise<void> {
  broker.child.kill('SIGTERM');
  await broker.exited;
}

async function fill(port: number, opts: Options): Promise<void> {
  const started = Date.now();
  const ids = (i: number): string => `restart-${i}`;
  const { clients, failed } = await connectMany(opts.sessions, 100, (i) => ({ host: '127.0.0.1', port, clientId: ids(i), clean: false }));
  if (failed > 0) throw new Error(`${failed} sessions failed to connect`);
  await Promise.all(clients.map((c) => c.subscribe(QUEUE_TOPIC, 1)));
  for (const c of clients) c.destroy();
  process.stderr.write(`${opts.sessions} sessions subscribed in ${Date.now() - started} ms\n`);

  const pub = await mqtt.connectAsync({ host: '127.0.0.1', port, protocolVersion: 4, reconnectPeriod: 0, clientId: 'restart-publisher' });
  let t = Date.now();
  for (let i = 0; i < opts.queued; i++) await pub.publishAsync(QUEUE_TOPIC, PAYLOAD, { qos: 1 });
  process.stderr.write(`${opts.queued} messages queued for each session in ${Date.now() - t} ms\n`);
  t = Date.now();
  const chunk = 1000;
  for (let i = 0; i < opts.retained; i += chunk) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(opts.retained, i + chunk); j++)
      batch.push(pub.publishAsync(`restart/retained/${j}`, PAYLOAD, { qos: 1, retain: true }));
    await Promise.all(batch);
  }
  process.stderr.write(`${opts.retained} retained messages stored in ${Date.now() - t} ms\n`);
  await pub.endAsync();
}

/** Bytes of the pages the sessions (records and messages) and the retained messages use, their counts, and the file's size. */
function usage(dataDir: string): { sessionsBytes: number; sessions: number; retainedBytes: number; retained: number; fileBytes: number } {
  const env = open({ path: join(dataDir, LMDB_DIR), ...LMDB_OPTIONS, readOnly: true });
  const bytes = (name: string): { bytes: number; entries: number } => {
    const stats = env.openDB({ name, keyEncoding: 'binary', encoding: 'binary' }).getStats() as {
      pageSize: number;
      treeBranchPageCount: number;
      treeLeafPageCount: number;
      overflowPages: number;
      entryCount: number;
    };
    return {
      bytes: stats.pageSize * (stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages),
      entries: stats.entryCount,
    };
  };
  const records = bytes(SUB_DATABASES.sessions);
  const messages = bytes(SUB_DATABASES.messages);
  const sessions = { bytes: records.bytes + messages.bytes, entries: records.entries };
  const retained = bytes(SUB_DATABASES.retained);
  void env.close();
  return {
    sessionsBytes: sessions.bytes,
    sessions: sessions.entries,
    retainedBytes: retained.bytes,
    retained: retained.entries,
    fileBytes: statSync(join(dataDir, LMDB_DIR, 'data.mdb')).size,
  };
}

interface Restart {
  workers: number;
  listeningMs: number;
  sessionPresentMs: number;
  firstMessageMs: number;
}

/** Restarts on `dataDir` and resumes session `restart-<session>` (each restart takes its own: the first one drains its queue). */
async function restart(dataDir: string, configFile: string, workers: number, session: number): Promise<Restart> {
  const t0 = performance.now();
  const broker = startBroker(dataDir, configFile, workers);
  try {
    const port = await broker.port;
    const listeningMs = performance.now() - t0;
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocolVersion: 4,
      clean: false,
      clientId: `restart-${session}`,
      reconnectPeriod: 0,
    });
    const first = new Promise<number>((resolve) => client.once('message', () => resolve(performance.now() - t0)));
    const sessionPresentMs = await new Promise<number>((resolve, reject) => {
      client.once('connect', (connack) => {
        if (connack.sessionPresent) resolve(performance.now() - t0);
        else reject(new Error('the returning session was not present'));
      });
      client.once('error', reject);
    });
    const firstMessageMs = await first;
    await client.endAsync();
    return {
      workers,
      listeningMs: Math.round(listeningMs),
      sessionPresentMs: Math.round(sessionPresentMs),
      firstMessageMs: Math.round(firstMessageMs),
    };
  } finally {
    await stopBroker(broker);
  }
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sessions: { type: 'string', default: '10000' },
      queued: { type: 'string', default: '100' },
      retained: { type: 'string', default: '100000' },
      workers: { type: 'string', default: '0,1' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const count = (name: string, value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad --${name}: ${value}`);
    return n;
  };
  return {
    sessions: count('sessions', values.sessions),
    queued: count('queued', values.queued),
    retained: count('retained', values.retained),
    workers: values.workers.split(',').map((w) => count('workers', w)),
    json: values.json,
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'shoal-restart-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'shoal.json');
  writeFileSync(configFile, JSON.stringify(CONFIG));
  try {
    const filling = startBroker(dataDir, configFile, 0);
    await fill(await filling.port, opts);
    await stopBroker(filling);
    const disk = usage(dataDir);
    const restarts: Restart[] = [];
    for (const [i, workers] of opts.workers.entries()) restarts.push(await restart(dataDir, configFile, workers, i));
    const queuedMessages = opts.sessions * opts.queued;
    const report = {
      node: process.version,
      ...opts,
      disk: {
        ...disk,
        bytesPerQueuedMessage: queuedMessages > 0 ? Math.round(disk.sessionsBytes / queuedMessages) : null,
        bytesPerRetainedMessage: disk.retained > 0 ? Math.round(disk.retainedBytes / disk.retained) : null,
      },
      restarts,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
