/**
 * The lmdb package, loaded on first use and one way only (its CommonJS
 * build, through require): a broker without a dataDir never loads the native
 * module (nor fails on a platform lmdb has no build for), and every user in
 * a thread shares one copy of lmdb-js's state; and handlers for the
 * promises of a failed commit that lmdb-js leaves unhandled. Either thread.
 */
import { createRequire } from 'node:module';
import type { RootDatabase } from 'lmdb';

let lmdb: typeof import('lmdb') | undefined;

/** lmdb's `open`. */
export function lmdbOpen(): (typeof import('lmdb'))['open'] {
  lmdb ??= createRequire(import.meta.url)('lmdb') as typeof import('lmdb');
  return lmdb.open;
}

/**
 * Call after queuing the writes of an event-loop turn. lmdb-js starts the
 * transaction of a turn's writes in a setImmediate of its own, which makes a
 * promise for that transaction and keeps it unhandled: when the commit fails
 * (a full disk, a file size limit) the rejection is unhandled and Node ends
 * the thread. The writes' own promises carry the failure to their callers,
 * so that one is given a no-op handler, from an immediate queued after
 * lmdb-js's (`committed` is then that transaction's promise); once per turn
 * and environment, however often it is called.
 */
export function handleTurnCommit(env: Pick<RootDatabase, 'committed'>): void {
  if (guarded.has(env)) return;
  guarded.add(env);
  setImmediate(() => {
    guarded.delete(env);
    env.committed.then(undefined, () => undefined);
  });
}

/** The environments whose turn is guarded already. */
const guarded = new WeakSet<object>();

/**
 * `write` (a promise of lmdb-js writes), its failure unchanged, with the
 * `commitError` promise lmdb-js hangs on a failed commit's error handled:
 * lmdb-js rejects it too, and nothing else listens to it.
 */
export function withCommitError<T>(write: Promise<T>): Promise<T> {
  return write.catch((err: unknown) => {
    (err as { commitError?: Promise<unknown> } | undefined)?.commitError?.catch(() => undefined);
    throw err;
  });
}
