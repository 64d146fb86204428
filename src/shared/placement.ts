/**
 * Stable placement of sessions on actor hosts: FNV-1a of pool and client id,
 * modulo the host count, so a reconnect always finds its session; and that
 * host count. The main thread places each CONNECT with it (and asks that
 * host to disconnect a client); a host with a session store uses it to take
 * back the stored sessions that are its own, and a host whose
 * auth_on_register rewrote a client id to find the host that owns the
 * session (workers/connect/connect-move.ts). All of them use the default
 * pool: a session lives on its client id's host, whatever its pool.
 * Pure functions; runs on either thread.
 */
export function hostFor(pool: string, clientId: string, hostCount: number): number {
  let h = 0x811c9dc5;
  const key = `${pool}\0${clientId}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % hostCount;
}

/** How many actor hosts (and router shards) a broker has: one per worker, one inline host with `workers: 0`. */
export function hostCount(workers: number): number {
  return Math.max(1, workers);
}
