/**
 * Helpers of the persistence tests: temporary data directories (removed
 * when the test process is done with them), direct access to a data
 * directory's LMDB environment as the broker lays it out
 * (src/main/store/layout.ts), and a bounded poll. Test process, main thread.
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { LMDB_DIR, LMDB_OPTIONS, SUB_DATABASES } from '../../src/shared/store/layout.js';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory under the OS's temporary directory, removed after the file's tests. */
export function tempDir(prefix = 'shoal-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface RetainedDb {
  env: RootDatabase;
  db: Database<Buffer, Buffer>;
  close(): Promise<void>;
}

/** Opens the `retained` sub-database of the data directory `dir` as the broker does (read-only when asked: a broker process may hold it). */
export function openRetainedDb(dir: string, readOnly = false): RetainedDb {
  const env = open({ path: join(dir, LMDB_DIR), ...LMDB_OPTIONS, readOnly });
  const db = env.openDB<Buffer, Buffer>({ name: SUB_DATABASES.retained, keyEncoding: 'binary', encoding: 'binary' });
  return { env, db, close: () => env.close() };
}

/** The number of records in the `retained` sub-database of `dir` (no broker may hold it). */
export async function retainedRecords(dir: string): Promise<number> {
  const { db, close } = openRetainedDb(dir);
  try {
    return db.getCount();
  } finally {
    await close();
  }
}
