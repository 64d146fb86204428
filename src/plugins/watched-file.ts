/**
 * A configuration file a bundled plugin (passwd, acl) keeps parsed, and
 * reloads without a restart. Design (the simplest that also works in worker
 * threads, which never see process signals):
 *
 * - On a hook call, at most once per second, `current()` stats the file
 *   (synchronously: one stat of a small file); when its mtime, size or inode
 *   changed, it is read and parsed again. An edit therefore takes effect
 *   within about a second, on the next call, in every actor host, without
 *   touching a connection.
 * - SIGHUP forces it: the `shoal` CLI's main process handles SIGHUP by posting
 *   on the BroadcastChannel `shoal:plugin-reload` (RELOAD_CHANNEL), which
 *   reaches every thread of the process; each watched file then re-reads on
 *   its next call, whatever its mtime.
 * - A file that cannot be read or parsed on reload keeps the rules already in
 *   force (logged as an error); at start-up it makes the factory throw, so
 *   `listen()` fails.
 *
 * Runs in every actor host.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';
import type { Logger } from '../shared/log.js';

export const RELOAD_CHANNEL = 'shoal:plugin-reload';

/** Shortest time between two stats of the file, in milliseconds. */
export const CHECK_INTERVAL_MS = 1_000;

/** Asks every bundled plugin of this process (all threads) to re-read its file; what the CLI does on SIGHUP. */
export function broadcastReload(): void {
  const channel = new BroadcastChannel(RELOAD_CHANNEL);
  channel.postMessage('reload');
  channel.close();
}

function signature(stats: Stats): string {
  return `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
}

export class WatchedFile<T> {
  private value: T;
  private signature: string;
  private checkedAt: number;
  private forced = false;

  constructor(
    readonly path: string,
    private readonly parse: (text: string) => T,
    private readonly log: Logger,
  ) {
    const stats = statSync(path);
    this.value = parse(readFileSync(path, 'utf8'));
    this.signature = signature(stats);
    this.checkedAt = Date.now();
    const channel = new BroadcastChannel(RELOAD_CHANNEL);
    channel.unref();
    channel.onmessage = () => {
      this.forced = true;
    };
  }

  /** The parsed file, re-read first when it changed (checked at most once per CHECK_INTERVAL_MS) or SIGHUP asked. */
  current(): T {
    const now = Date.now();
    if (!this.forced && now - this.checkedAt < CHECK_INTERVAL_MS) return this.value;
    const forced = this.forced;
    this.forced = false;
    this.checkedAt = now;
    try {
      const stats = statSync(this.path);
      const sig = signature(stats);
      if (forced || sig !== this.signature) {
        this.value = this.parse(readFileSync(this.path, 'utf8'));
        this.signature = sig;
        this.log.info({ file: this.path }, 'reloaded');
      }
    } catch (err) {
      this.log.error({ file: this.path, err }, 'reload failed; the rules already loaded stay in force');
    }
    return this.value;
  }
}

/** The `file` option of a bundled plugin's config entry. */
export function fileOption(options: Readonly<Record<string, unknown>>, plugin: string): string {
  const file = options['file'];
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(
      `${plugin}: expected options.file, the path of its file (config.plugins: [{ module: '${plugin}', options: { file } }])`,
    );
  }
  return file;
}
