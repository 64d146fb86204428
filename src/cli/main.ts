#!/usr/bin/env node
/**
 * The `shoal` command: serves MQTT until SIGINT/SIGTERM (graceful stop), or
 * runs a subcommand (`bench`). Main thread.
 */
import { createBroker } from '../broker.js';
import { parseCli, USAGE } from './args.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'bench') {
    const { runBench } = await import('../../bench/cli.js');
    return runBench(argv.slice(1));
  }
  const options = parseCli(argv);
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const broker = createBroker(options.config);
  try {
    await broker.listen();
  } catch (err) {
    await broker.close();
    throw err;
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      broker.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`shoal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
