/**
 * The on-disk layout of a data directory (config.dataDir): its file names,
 * the LMDB environment's path and open options, the sub-databases and who
 * owns each, and the format version. Constants only, importing nothing:
 * the main thread (lock, format, retained messages) and every actor host
 * (its sessions) open the same environment with them. Either thread.
 *
 *   <dataDir>/shoal.lock   the broker's lock: one broker per directory (data-dir.ts)
 *   <dataDir>/lmdb/        the LMDB environment (data.mdb, lock.mdb), one per
 *                          process: every thread that opens this path shares it
 *
 * Sub-databases of the environment:
 *   meta       string keys, string values. `format`: the format version, decimal.
 *   retained   the retained messages, main thread (lmdb-retained-store.ts);
 *              binary keys and values, see retainedKey and encodeRetained there.
 *   sessions   the persistent sessions, one store per actor host
 *              (workers/session/lmdb-session-store.ts); binary keys (sessionKey
 *              there), msgpack values: a SessionRecord with its format `v`,
 *              without its messages.
 *   messages   the sessions' queued and inflight messages, one entry each
 *              (workers/session/lmdb-session-messages.ts): the session's key
 *              and a sequence, binary values.
 *   deliveries which persistent session got a copy of which QoS 2 publish,
 *              written by the actor hosts with the sessions' records: the
 *              publish id (36 bytes) and the sessionKey, one empty value each;
 *              removed when the publisher sends PUBREL.
 */

/** The format this code reads and writes; a directory of a newer one is refused. */
export const FORMAT_VERSION = 1;

/** The lock file, in the data directory. */
export const LOCK_FILE = 'shoal.lock';

/** The LMDB environment's directory, in the data directory. */
export const LMDB_DIR = 'lmdb';

/** The sub-databases of the environment, by owner. */
export const SUB_DATABASES = {
  meta: 'meta',
  retained: 'retained',
  sessions: 'sessions',
  messages: 'messages',
  deliveries: 'deliveries',
} as const;

/** The key of the format version in the `meta` sub-database. */
export const FORMAT_KEY = 'format';

/**
 * Options every opener of the environment passes to lmdb's `open` (with
 * `path`): a second `open` of the same path in the process shares the first
 * one's environment, so they must agree. lmdb's defaults otherwise: commits
 * batched per event-loop turn (eventTurnBatching), overlappingSync.
 */
export const LMDB_OPTIONS = {
  /** The path is a directory, whatever its name looks like. */
  noSubdir: false,
  maxDbs: 12,
} as const;
