/**
 * The broker process of the footprint bench (bench/footprint/main.ts): Shoal
 * through the embedding API, run with `--expose-gc`. It prints its port on
 * stdout, then answers each `measure` line on stdin with one JSON line of
 * process.memoryUsage() taken after three full collections of the main
 * thread's heap (a worker host's heap is counted in `rss` only).
 *
 *   node --expose-gc broker.js --workers N
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createBroker } from '../../src/index.js';

const COLLECTIONS = 3;
const { values } = parseArgs({ options: { workers: { type: 'string', default: '0' } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const broker = createBroker({ port: 0, host: '127.0.0.1', workers: Number(values.workers), sysInterval: 0, logLevel: 'warn' });
const { port } = await broker.listen();
process.stdout.write(`${JSON.stringify({ port })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'measure') return;
  void (async () => {
    for (let i = 0; i < COLLECTIONS; i++) {
      gc();
      await sleep(100);
    }
    process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`);
  })();
});
process.stdin.once('end', () => void broker.close().then(() => process.exit(0)));
