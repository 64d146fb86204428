#!/usr/bin/env node
/**
 * The `shoal` command: serves MQTT until SIGINT/SIGTERM (graceful stop),
 * prints its version (`--version`), checks or prints its configuration
 * (`--check-config`, `--print-config`), or runs the `passwd` subcommand;
 * with `--processes N`, N node processes behind the same ports
 * (node-processes.ts). SIGHUP makes the bundled plugins
 * (shoal/passwd, shoal/acl) re-read their files in every actor host, without
 * touching connections (src/plugins/watched-file.ts). Main thread.
 */
import { ConfigError, resolveConfig } from '../../api/config-schema.js';
import { createBroker } from '../broker.js';
import { broadcastReload } from '../../plugins/watched-file.js';
import { BROKER_VERSION } from '../observe/version.js';
import { createLogger } from '../../shared/log.js';
import { parseCli, USAGE } from './args.js';
import { configForProcess, leavePrimary, processIndex, runNodeProcesses } from './node-processes.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'passwd') {
    const { runPasswd } = await import('./passwd.js');
    return runPasswd(argv.slice(1));
  }
  let options;
  try {
    options = parseCli(argv);
  } catch (err) {
    if (!(err instanceof ConfigError) || !argv.includes('--check-config')) throw err;
    process.stderr.write(`${err.problems.join('\n')}\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`${BROKER_VERSION}\n`);
    return 0;
  }
  for (const name of options.unknownEnv) process.stderr.write(`shoal: ${name} names no configuration field; ignored\n`);
  if (options.checkConfig || options.printConfig) {
    let resolved;
    try {
      resolved = resolveConfig(options.config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`${err.problems.join('\n')}\n`);
      return 1;
    }
    process.stdout.write(options.printConfig ? `${JSON.stringify(resolved, null, 2)}\n` : 'the configuration is valid\n');
    return 0;
  }
  const index = processIndex();
  if (options.processes > 1 && index === undefined) {
    const { logLevel, logFormat } = resolveConfig(options.config);
    return runNodeProcesses(options.processes, createLogger(logLevel, 'primary', logFormat));
  }
  const broker = createBroker(index === undefined ? options.config : configForProcess(options.config, index));
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
    leavePrimary();
  },
  (err: unknown) => {
    process.stderr.write(`shoal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    leavePrimary();
  },
);
