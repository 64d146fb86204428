/**
 * Bookkeeping shared by the micro-benchmark modules and run.ts: how many
 * items (messages, calls) one iteration of a task covers, so the runner can
 * print a per-item cost next to the per-iteration one; and clean-ups (worker
 * threads, pools) the runner calls once every task has run, even when a task
 * failed before its own teardown. Measures nothing itself; runs on the main
 * thread of the bench process.
 */

export interface ItemsPerIteration {
  /** Items one call of the task function handles. */
  count: number;
  /** What an item is, for the table: 'msg', 'take', ... */
  unit: string;
}

const items = new Map<string, ItemsPerIteration>();
const cleanups = new Set<() => Promise<void>>();

/** Declares that one iteration of task `taskName` handles `count` items. */
export function itemsPerIteration(taskName: string, count: number, unit = 'msg'): void {
  items.set(taskName, { count, unit });
}

/**
 * Items per iteration of `taskName`: what a module declared, else a count
 * read from an `N-packet chunk` task name (the codec module's naming), else
 * undefined (one item per iteration).
 */
export function itemsOf(taskName: string): ItemsPerIteration | undefined {
  const declared = items.get(taskName);
  if (declared) return declared;
  const m = /(\d+)-packet chunk/.exec(taskName);
  return m ? { count: Number(m[1]), unit: 'msg' } : undefined;
}

/** Registers a clean-up; returns a function that unregisters it (call it after a normal teardown). */
export function onCleanup(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Runs every clean-up still registered (run.ts, after the bench). */
export async function runCleanups(): Promise<void> {
  const pending = [...cleanups];
  cleanups.clear();
  await Promise.allSettled(pending.map((c) => c()));
}
