/**
 * Aedes as a benchmark peer: a child process entry that serves aedes (default
 * options, in-memory persistence) on a TCP port. Started by
 * bench/peers/brokers.ts, pinned with taskset like the other brokers:
 *
 *   node dist/bench/peers/aedes-server.js --port 1883 [--host 127.0.0.1]
 *
 * Exits on SIGTERM or SIGINT.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } },
  strict: true,
});
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write(`aedes-server: bad --port ${String(values.port)}\n`);
  process.exit(2);
}

const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
server.listen(port, values.host);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
