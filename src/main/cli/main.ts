#!/usr/bin/env node
/**
 * The `shoal` command: serves MQTT until SIGINT/SIGTERM (graceful stop),
 * prints its version (`--version`), or runs the `passwd` subcommand. SIGHUP makes the bundled plugins
 * (shoal/passwd, shoal/acl) re-read their files in every actor host, without
 * touching connections (src/plugins/watched-file.ts). Main thread.
 */
import { createBroker } from '../broker.js';
import { broadcastReload } from '../../plugins/watched-file.js';
import { BROKER_VERSION } from '../observe/version.js';
import { parseCli, USAGE } from './args.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'passwd') {
    const { runPasswd } = await import('./passwd.js');
    return runPasswd(argv.slice(1));
  }
  const options = parseCli(argv);
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`${BROKER_VERSION}\n`);
    return 0;
  }
  const broker = createBroker(options.config);
  try {
    await broker.listen();
  } catch (err) {
    await broker.close();
    throw err;
  }
  const reload = (): void => broadcastReload();
  if (process.platform !== 'win32') process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', reload);
      broker.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`shoal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
