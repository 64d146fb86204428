/**
 * Logger factory (pino). Each thread creates its own logger from the level
 * and format in the config; the records carry the thread's name. JSON lines
 * by default, or pino-pretty's readable lines, written from the same thread.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/** How records are written: 'json' lines, 'pretty' lines for people, or 'auto': pretty when stdout is a terminal, else JSON. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

export type LogFormat = (typeof LOG_FORMATS)[number];

/** The format 'auto' stands for in this process; asked on the main thread, since a worker thread's stdout is never a terminal. */
export function resolveLogFormat(format: LogFormat): Exclude<LogFormat, 'auto'> {
  if (format !== 'auto') return format;
  return process.stdout.isTTY === true ? 'pretty' : 'json';
}

export function createLogger(level: LogLevel, name: string, format: LogFormat = 'json'): Logger {
  const options = { level, name, base: { thread: name } };
  if (resolveLogFormat(format) === 'json') return pino(options);
  return pino(options, pretty({ sync: true, singleLine: true, translateTime: 'SYS:standard', ignore: 'pid,hostname,thread' }));
}
