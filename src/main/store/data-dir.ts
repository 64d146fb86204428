/**
 * The data directory of one broker (config.dataDir), opened once when the
 * broker is created, before its actor hosts start: it creates the
 * directory, takes the broker's lock on it, opens the one LMDB environment
 * of the broker and checks the on-disk format version (layout.ts). It owns
 * the lock file and the environment until close(). Main thread.
 *
 * The lock is a file created exclusively (`open(..., 'wx')`) holding the
 * owner's pid, host name, the time it was taken and, on Linux, the
 * process's start time (/proc/<pid>/stat). A second broker finds it and
 * fails with one line naming the directory and the pid. A lock is stale,
 * and taken over, when on the same host its pid is not alive (a kill -9, a
 * crash), is alive but started at another time (a recycled pid), or is this
 * very process without this process holding it (a container restarted
 * with the same pid, often 1). Node has no flock(2); a library such as
 * proper-lockfile refreshes an mtime on a timer and judges staleness by
 * age: a timer on the main thread for what a pid check answers at start.
 * Limits: without /proc a recycled pid makes a stale lock look alive (the
 * message says which file to remove), and two brokers breaking the same
 * stale lock at the same instant may both start. LMDB's own locking keeps
 * the files consistent in any case.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import type { Durability } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';
import { FORMAT_KEY, FORMAT_VERSION, LMDB_DIR, LMDB_OPTIONS, LOCK_FILE, SUB_DATABASES } from '../../shared/store/layout.js';
import { handleTurnCommit, lmdbOpen, withCommitError } from '../../shared/store/lmdb.js';

/** A data directory that cannot be used; its message is one line naming the directory. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/** What the lock file holds. */
interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** The process's start time in clock ticks since boot, where /proc tells it. */
  start?: string;
}

/** The lock files this process holds. */
const heldLocks = new Set<string>();

/** An open data directory: the broker's lock and its LMDB environment. */
export class DataDir {
  /** Sub-databases opened so far, by name. */
  private readonly dbs = new Map<string, Database<Buffer, Buffer>>();
  private closing: Promise<void> | undefined;

  private constructor(
    /** The directory, absolute. */
    readonly path: string,
    readonly durability: Durability,
    /** The environment; its sub-databases through `binaryDB`. */
    readonly env: RootDatabase,
    private readonly lockPath: string,
    private readonly lockText: string,
  ) {}

  /**
   * Creates `dataDir` if missing, locks it, opens its LMDB environment and
   * checks (on a new directory: writes) its format version. Throws a
   * DataDirError naming the directory when any of it fails, having released
   * what it took.
   */
  static open(dataDir: string, durability: Durability, log: Logger): DataDir {
    const path = resolve(dataDir);
    try {
      mkdirSync(path, { recursive: true });
    } catch (err) {
      throw new DataDirError(`config.dataDir: cannot create the data directory ${path}: ${reason(err)}`);
    }
    const lockPath = join(path, LOCK_FILE);
    const lockText = takeLock(path, lockPath, log);
    let env: RootDatabase | undefined;
    try {
      env = lmdbOpen()({ path: join(path, LMDB_DIR), ...LMDB_OPTIONS });
      checkFormat(env, path, log);
      return new DataDir(path, durability, env, lockPath, lockText);
    } catch (err) {
      if (env !== undefined) void env.close().catch(() => undefined);
      releaseLock(lockPath, lockText);
      if (err instanceof DataDirError) throw err;
      throw new DataDirError(`config.dataDir: cannot open the data directory ${path}: ${reason(err)}`);
    }
  }

  /** The sub-database `name` (one of SUB_DATABASES) with binary keys and values, created if missing. */
  binaryDB(name: string): Database<Buffer, Buffer> {
    let db = this.dbs.get(name);
    if (db === undefined) {
      db = this.env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' });
      this.dbs.set(name, db);
    }
    return db;
  }

  /**
   * The promise of a write made durable per `durability`: 'os' resolves
   * when its transaction committed (lmdb's own promise), 'sync' once that
   * commit is flushed to disk too.
   */
  durable(lmdbWrite: Promise<boolean>): Promise<void> {
    handleTurnCommit(this.env);
    const write = withCommitError(lmdbWrite);
    if (this.durability === 'os') return write.then(noop);
    // lmdb's `flushed` is read when asked: asked now, it is the flush of the transaction this write joined
    // (asked once the write resolved, a later transaction may have replaced it).
    const flushed = this.env.flushed.then(noop);
    flushed.catch(noop); // reported through the returned promise
    return write.then(() => flushed);
  }

  /** Waits for the writes made so far (flushed, with 'sync'), closes the environment and releases the lock. Once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await (this.durability === 'sync' ? this.env.flushed : this.env.committed);
        await this.env.close();
      } finally {
        releaseLock(this.lockPath, this.lockText);
      }
    })();
    return this.closing;
  }
}

function noop(): void {}

/** Creates the lock file, taking over a stale one once; answers what it wrote. */
function takeLock(dir: string, lockPath: string, log: Logger): string {
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const start = processStart(process.pid);
  if (start !== undefined) owner.start = start;
  const text = `${JSON.stringify(owner)}\n`;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx', 0o644);
    } catch (err) {
      if (code(err) !== 'EEXIST') throw new DataDirError(`config.dataDir: cannot lock the data directory ${dir}: ${reason(err)}`);
      const holder = readLock(lockPath);
      if (attempt === 0 && holder !== undefined && isStale(holder, lockPath)) {
        log.warn({ dataDir: dir, stalePid: holder.pid, since: holder.since }, 'taking over the lock of a broker that is gone');
        try {
          unlinkSync(lockPath);
        } catch (unlinkErr) {
          if (code(unlinkErr) !== 'ENOENT')
            throw new DataDirError(`config.dataDir: cannot remove the stale lock ${lockPath}: ${reason(unlinkErr)}`);
        }
        continue;
      }
      const who = holder === undefined ? 'an unreadable lock' : `pid ${holder.pid} on ${holder.host} since ${holder.since}`;
      throw new DataDirError(
        `config.dataDir: the data directory ${dir} is in use by another broker (${who}); if none runs there, remove ${lockPath}`,
      );
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    heldLocks.add(lockPath);
    return text;
  }
}

/** The lock file's owner, or undefined when it cannot be read or parsed (not judged stale: it may be half written). */
function readLock(lockPath: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<LockOwner>;
    const { pid, host } = parsed;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || typeof host !== 'string') return undefined;
    const owner: LockOwner = { pid, host, since: String(parsed.since) };
    if (typeof parsed.start === 'string') owner.start = parsed.start;
    return owner;
  } catch {
    return undefined;
  }
}

/** The lock's process is known to be gone (see the module comment); a lock of another host is never judged. */
function isStale(owner: LockOwner, lockPath: string): boolean {
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return !heldLocks.has(lockPath);
  try {
    process.kill(owner.pid, 0); // EPERM: a process of another user has that pid
  } catch (err) {
    return code(err) === 'ESRCH';
  }
  const start = owner.start === undefined ? undefined : processStart(owner.pid);
  return start !== undefined && start !== owner.start;
}

/** The start time of process `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined without /proc. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Removes the lock file if it is still the one written (`text`). */
function releaseLock(lockPath: string, text: string): void {
  heldLocks.delete(lockPath);
  try {
    if (readFileSync(lockPath, 'utf8') === text) unlinkSync(lockPath);
  } catch {
    // Already gone, or not ours: nothing to release.
  }
}

/** Writes the format version on a new directory; refuses a newer or unreadable one. */
function checkFormat(env: RootDatabase, dir: string, log: Logger): void {
  const meta = env.openDB<string, string>({ name: SUB_DATABASES.meta, encoding: 'string' });
  const stored = meta.get(FORMAT_KEY);
  if (stored === undefined) {
    meta.putSync(FORMAT_KEY, String(FORMAT_VERSION));
    log.info({ dataDir: dir, format: FORMAT_VERSION }, 'new data directory');
    return;
  }
  const version = /^[0-9]{1,9}$/.test(stored) ? Number(stored) : NaN;
  if (Number.isNaN(version)) {
    throw new DataDirError(
      `config.dataDir: the data directory ${dir} has an unreadable format version ${JSON.stringify(stored.slice(0, 40))}`,
    );
  }
  if (version > FORMAT_VERSION) {
    throw new DataDirError(
      `config.dataDir: the data directory ${dir} has format version ${version}, newer than this broker's ${FORMAT_VERSION}; run a newer broker on it`,
    );
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
