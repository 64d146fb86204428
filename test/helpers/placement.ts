/**
 * Client ids for tests that care which actor host serves a session: one the
 * broker places on a given host (FNV-1a of the client id, src/shared/placement.ts).
 * Runs in the test process (main thread).
 */
import { hostFor } from '../../src/shared/placement.js';
import { uniqueId } from './clients.js';

/** A client id `<prefix>-…` that the broker places on host `host` of `hosts`. */
export function idOnHost(host: number, hosts: number, prefix = 'h'): string {
  for (;;) {
    const id = uniqueId(prefix);
    if (hostFor('', id, hosts) === host) return id;
  }
}
