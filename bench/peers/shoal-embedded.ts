/**
 * Shoal started through the embedding API with the trivial plugin registered
 * in its own process (`broker.addPlugin`), for `npm run bench -- --hooks`:
 * `node shoal-embedded.js --port P --host H --workers N --config FILE`.
 * Runs as the broker process of a bench run; stops on SIGTERM or SIGINT.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createBroker } from '../../src/index.js';
import type { BrokerConfig } from '../../src/api/config.js';
import trivialPlugin from './trivial-plugin.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    workers: { type: 'string', default: '1' },
    config: { type: 'string' },
  },
});
const fileConfig = values.config ? (JSON.parse(readFileSync(values.config, 'utf8')) as Partial<BrokerConfig>) : {};
const broker = createBroker({
  ...fileConfig,
  port: Number(values.port),
  host: values.host,
  workers: Number(values.workers),
  logLevel: 'warn',
});
broker.addPlugin(trivialPlugin);
await broker.listen();
const stop = (): void => {
  void broker.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
