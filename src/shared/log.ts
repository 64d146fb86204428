/**
 * Logger factory (pino). Each thread creates its own logger from the level in
 * the config; the records carry the thread's name.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../api/config.js';

export type { Logger };

export function createLogger(level: LogLevel, name: string): Logger {
  return pino({ level, name, base: { thread: name } });
}
