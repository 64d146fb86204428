/**
 * Memory per connection (`npm run bench:footprint`, i.e. `node
 * dist/bench/footprint/main.js`): starts Shoal in a child process
 * (bench/footprint/broker.ts), reads its memory after full collections when
 * idle, after N idle MQTT 3.1.1 connections and after N more, and splits the
 * growth into what each connection adds (the second N: the slope) and what
 * the first connections cost once (buffers, code, tables that grow on first
 * use). The load bench's "RSS per held connection" divides both by the
 * connections; this separates them. The clients live in this process.
 *
 *   --connections N   per step (default 5000)
 *   --workers LIST    worker counts to measure (default 0,1)
 *   --json FILE       also write the results as JSON
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectMany, type LoadClient } from '../load/client.js';

const BROKER = fileURLToPath(new URL('./broker.js', import.meta.url));
const CONCURRENCY = 200;
const FIELDS = ['rss', 'heapUsed', 'heapTotal', 'external'] as const;
type Reading = Record<(typeof FIELDS)[number], number>;

interface Footprint {
  workers: number;
  connections: number;
  /** KiB each connection of the second step added. */
  perConnectionKiB: Reading;
  /** KiB the first step added beyond perConnectionKiB × connections. */
  firstUseKiB: Reading;
  /** The load bench's figure: KiB of the first step ÷ its connections. */
  averageKiB: Reading;
}

class BrokerProcess {
  private readonly lines: AsyncIterator<string>;

  constructor(private readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  async next(): Promise<string> {
    const { value, done } = await this.lines.next();
    if (done === true) throw new Error(`the broker exited (${this.child.exitCode ?? this.child.signalCode})`);
    return value as string;
  }

  async measure(): Promise<Reading> {
    this.child.stdin!.write('measure\n');
    return JSON.parse(await this.next()) as Reading;
  }

  stop(): Promise<void> {
    this.child.stdin!.end();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

const kib = (bytes: number): number => Math.round((bytes / 1024) * 100) / 100;
const per = (a: Reading, b: Reading, n: number): Reading => Object.fromEntries(FIELDS.map((f) => [f, kib((b[f] - a[f]) / n)])) as Reading;

async function connect(port: number, count: number, first: number): Promise<LoadClient[]> {
  const { clients, failed, errors } = await connectMany(count, CONCURRENCY, (i) => ({
    host: '127.0.0.1',
    port,
    clientId: `footprint-${first + i}`,
    clean: true,
  }));
  if (failed > 0) throw new Error(`${failed} of ${count} connections failed: ${errors.join('; ')}`);
  return clients;
}

async function footprint(workers: number, connections: number): Promise<Footprint> {
  const child = spawn(process.execPath, ['--expose-gc', BROKER, '--workers', String(workers)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const broker = new BrokerProcess(child);
  const clients: LoadClient[] = [];
  try {
    const { port } = JSON.parse(await broker.next()) as { port: number };
    const idle = await broker.measure();
    clients.push(...(await connect(port, connections, 0)));
    const first = await broker.measure();
    clients.push(...(await connect(port, connections, connections)));
    const second = await broker.measure();
    const perConnectionKiB = per(first, second, connections);
    const averageKiB = per(idle, first, connections);
    const firstUseKiB = Object.fromEntries(
      FIELDS.map((f) => [f, Math.round((averageKiB[f] - perConnectionKiB[f]) * connections)]),
    ) as Reading;
    return { workers, connections, perConnectionKiB, firstUseKiB, averageKiB };
  } finally {
    for (const c of clients) c.destroy();
    await broker.stop();
  }
}

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '5000' },
    workers: { type: 'string', default: '0,1' },
    json: { type: 'string' },
  },
});
const connections = Number(values.connections);
if (!Number.isInteger(connections) || connections < 1) throw new Error(`bad --connections: ${values.connections}`);
const results: Footprint[] = [];
for (const workers of values.workers.split(',').map(Number)) {
  const result = await footprint(workers, connections);
  results.push(result);
  const row = (label: string, r: Reading, unit: string): string =>
    `  ${label.padEnd(34)} ${FIELDS.map((f) => `${f} ${r[f]}`).join('  ')} ${unit}`;
  process.stdout.write(
    [
      `workers ${workers}, ${connections} idle connections per step`,
      row('each connection (second step)', result.perConnectionKiB, 'KiB'),
      row('first use (first step − slope)', result.firstUseKiB, 'KiB'),
      row('average over the first step', result.averageKiB, 'KiB'),
      '',
    ].join('\n'),
  );
}
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
