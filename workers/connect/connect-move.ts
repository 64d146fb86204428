/**
 * One session per subscriber id, whatever the host count: every session
 * lives on the host its client id places it on (src/shared/placement.ts,
 * the pool left out, as the main thread places a CONNECT and a store takes
 * its sessions back). When auth_on_register gives a CONNECT the subscriber id
 * of another host's session, the registration goes on there: this module
 * tells which host owns a subscriber id, and writes and reads what the
 * registration decided so far (the `continued` field of the `open` frame the
 * owner gets). Pure functions; runs wherever the actor host runs.
 */
import type { BrokerConfig } from '../../src/api/config.js';
import { fromWire, toWire } from '../../src/shared/hooks/wire.js';
import { hostCount, hostFor } from '../../src/shared/placement.js';
import { DEFAULT_POOL } from '../../src/shared/topic/topic.js';
import type { Registration } from '../session/session-limits.js';
import type { Authenticated } from './connect-types.js';

/** What a CONNECT's registration decided before it moved: the rest is asked again on the owner's host. */
export interface MovedConnect {
  /** The username plugins saw (the user part of `vhost:user` when usernames carry a vhost). */
  username: string | undefined;
  /** The outcome of a successful enhanced authentication. */
  authenticated: Authenticated | undefined;
  /** auth_on_register's identity, clean start, session expiry and limits. */
  registration: Registration;
}

/** The host that owns the session of client id `clientId`. */
export function ownerHost(config: BrokerConfig, clientId: string): number {
  return hostFor(DEFAULT_POOL, clientId, hostCount(config.workers));
}

export function writeMovedConnect(moved: MovedConnect): string {
  return toWire(moved);
}

export function readMovedConnect(continued: string): MovedConnect {
  return fromWire(continued) as MovedConnect;
}
