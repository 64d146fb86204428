/**
 * Pools (virtual hosts), after mqtt_sessions: which pool a CONNECT joins
 * (the vhost of a `vhost:user` username through `vhost_pool`, when
 * usernames carry a vhost: `vhostSeparator` is set, or the runtime has its
 * own vhost_pool; else the listener's pool from `listenerPools`, else
 * `pool_default`), and the pool a
 * topic routes in (`$SYS/...` always in the default pool '', so system
 * information is shared across pools). Pure functions; run in every actor host.
 */
import { DEFAULT_POOL, isSysTopic, parseSharedFilter, SHARE_PREFIX } from '../../src/shared/topic/topic.js';

/** The separator of a runtime that implements vhost_pool while `vhostSeparator` is '': mqtt_sessions' `vhost:user`. */
export const RUNTIME_VHOST_SEPARATOR = ':';

/** The runtime's pool callbacks as the actor host calls them (host-runtime.ts): undefined refuses the client. */
export interface PoolSource {
  /** The runtime implements its own vhost_pool: it asks for pools by username. */
  readonly choosesVhosts: boolean;
  vhostPool(vhost: string): string | undefined;
  poolDefault(): string | undefined;
}

/** What separates vhost and user in a username: `configured` (config.vhostSeparator), else ':' for a runtime with its own vhost_pool; '' = none. */
export function vhostSeparator(runtime: PoolSource, configured: string): string {
  if (configured !== '') return configured;
  return runtime.choosesVhosts ? RUNTIME_VHOST_SEPARATOR : '';
}

export type PoolChoice = { pool: string; username: string | undefined } | { refused: string };

/**
 * The pool of a CONNECT and the username plugins and the runtime see (the
 * user part of `vhost:user` with separator ':'; none for `vhost:`; with
 * separator '' the username whole). A vhost naming another pool than its
 * listener's, or one `vhost_pool` does not know, is refused, and so is a
 * client without a vhost when `pool_default` fails.
 */
export function choosePool(
  runtime: PoolSource,
  username: string | undefined,
  listenerPool: string | undefined,
  separator: string,
): PoolChoice {
  const at = username === undefined || separator === '' ? -1 : username.indexOf(separator);
  if (username === undefined || at < 0) {
    const pool = listenerPool ?? runtime.poolDefault();
    return typeof pool === 'string' ? { pool, username } : { refused: 'the session runtime has no default pool' };
  }
  const vhost = username.slice(0, at);
  const pool = runtime.vhostPool(vhost);
  if (typeof pool !== 'string') return { refused: `unknown virtual host ${JSON.stringify(vhost)}` };
  if (listenerPool !== undefined && pool !== listenerPool) {
    return { refused: `virtual host ${JSON.stringify(vhost)} is not served on this listener` };
  }
  const user = username.slice(at + separator.length);
  return { pool, username: user === '' ? undefined : user };
}

/** The pool a topic name or filter of a session in `pool` routes in. */
export function routingPool(pool: string, topic: string): string {
  if (pool === DEFAULT_POOL) return pool;
  const inner = topic.startsWith(SHARE_PREFIX) ? (parseSharedFilter(topic)?.filter ?? topic) : topic;
  return isSysTopic(inner) ? DEFAULT_POOL : pool;
}
