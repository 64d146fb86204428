/**
 * The lmdb package, loaded on first use and one way only (its CommonJS
 * build, through require): a broker without a dataDir never loads the native
 * module (nor fails on a platform lmdb has no build for), and every user in
 * a thread shares one copy of lmdb-js's state. Either thread.
 */
import { createRequire } from 'node:module';

let lmdb: typeof import('lmdb') | undefined;

/** lmdb's `open`. */
export function lmdbOpen(): (typeof import('lmdb'))['open'] {
  lmdb ??= createRequire(import.meta.url)('lmdb') as typeof import('lmdb');
  return lmdb.open;
}
