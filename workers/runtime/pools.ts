/**
 * Pools (virtual hosts), after mqtt_sessions: which pool a CONNECT joins
 * (the vhost of a `vhost:user` username through `vhost_pool`, else the
 * listener's pool from `listenerPools`, else `pool_default`), and the pool a
 * topic routes in (`$SYS/...` always in the default pool '', so system
 * information is shared across pools). Pure functions; run in every actor host.
 */
import { DEFAULT_POOL, isSysTopic, parseSharedFilter, SHARE_PREFIX } from '../../src/shared/topic/topic.js';

/** The runtime's pool callbacks as the actor host calls them (host-runtime.ts): undefined refuses the client. */
export interface PoolSource {
  vhostPool(vhost: string): string | undefined;
  poolDefault(): string | undefined;
}

export type PoolChoice = { pool: string; username: string | undefined } | { refused: string };

/**
 * The pool of a CONNECT and the username plugins and the runtime see (the
 * user part of `vhost:user`; none for `vhost:`). A vhost naming another
 * pool than its listener's, or one `vhost_pool` does not know, is refused,
 * and so is a client without a vhost when `pool_default` fails.
 */
export function choosePool(runtime: PoolSource, username: string | undefined, listenerPool: string | undefined): PoolChoice {
  const colon = username === undefined ? -1 : username.indexOf(':');
  if (username === undefined || colon < 0) {
    const pool = listenerPool ?? runtime.poolDefault();
    return typeof pool === 'string' ? { pool, username } : { refused: 'the session runtime has no default pool' };
  }
  const vhost = username.slice(0, colon);
  const pool = runtime.vhostPool(vhost);
  if (typeof pool !== 'string') return { refused: `unknown virtual host ${JSON.stringify(vhost)}` };
  if (listenerPool !== undefined && pool !== listenerPool) {
    return { refused: `virtual host ${JSON.stringify(vhost)} is not served on this listener` };
  }
  const user = username.slice(colon + 1);
  return { pool, username: user === '' ? undefined : user };
}

/** The pool a topic name or filter of a session in `pool` routes in. */
export function routingPool(pool: string, topic: string): string {
  if (pool === DEFAULT_POOL) return pool;
  const inner = topic.startsWith(SHARE_PREFIX) ? (parseSharedFilter(topic)?.filter ?? topic) : topic;
  return isSysTopic(inner) ? DEFAULT_POOL : pool;
}
