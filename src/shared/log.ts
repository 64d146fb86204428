/**
 * Logger factory (pino). Each thread creates its own logger from the level in
 * the config; the records carry the thread's name.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel, name: string): Logger {
  return pino({ level, name, base: { thread: name } });
}
