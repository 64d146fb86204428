/**
 * The default session runtime, after mqtt_sessions_runtime.erl: the vhost of
 * a `vhost:user` username is its pool (asked only with `vhostSeparator` set:
 * its vhost_pool is not its own choice of vhost pools, pools.ts), pool ''
 * otherwise; the user context
 * records the pool, client id, user and the connection it came from; a
 * session that has a user is only reattached (or taken over) by that user
 * (CONNACK 0x87; 3.1.1 return code 5), an anonymous one by anyone; every
 * publish, subscribe and message is allowed; control messages change
 * nothing; re-authentication is not supported. A crawler is a WebSocket
 * client whose User-Agent matches CRAWLER_PATTERN. Pure functions; runs in
 * every actor host.
 */
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { ConnectAnswer, ConnectPacket, Runtime, SessionOptions, UserContext } from '../../src/api/runtime.js';

/** User-Agent fragments of crawlers and headless browsers (case-insensitive). */
export const CRAWLER_PATTERN = /bot\b|bot\/|crawl|spider|slurp|headless|lighthouse|facebookexternalhit|bingpreview/i;

/** The default runtime's user context. */
export interface DefaultUserContext {
  pool: string;
  clientId: string;
  /** The user of the session, once a CONNECT with a username was accepted. */
  user: string | undefined;
  /** The connection of the latest accepted CONNECT. */
  opts: SessionOptions;
}

function asDefault(ctx: UserContext): DefaultUserContext | undefined {
  return typeof ctx === 'object' && ctx !== null && 'opts' in ctx ? (ctx as DefaultUserContext) : undefined;
}

export const defaultRuntime: Runtime = {
  vhost_pool: (vhost) => vhost,
  pool_default: () => '',
  new_user_context: (pool, clientId, opts): DefaultUserContext => ({ pool, clientId, user: undefined, opts }),
  connect(packet: ConnectPacket, _sessionPresent: boolean, opts: SessionOptions, ctx: UserContext): ConnectAnswer {
    const current = asDefault(ctx);
    if (current?.user !== undefined && current.user !== packet.username) {
      return { reasonCode: ReasonCode.NotAuthorized, reasonString: 'the session belongs to another user', userContext: ctx };
    }
    const next: DefaultUserContext = {
      pool: current?.pool ?? '',
      clientId: current?.clientId ?? packet.clientId,
      user: packet.username,
      opts,
    };
    return { reasonCode: ReasonCode.Success, userContext: next };
  },
  reauth: () => 'not_supported',
  is_allowed: () => true,
  is_valid_message: () => true,
  control_message: (_rest, _packet, ctx) => ctx,
  is_websocket_origin: (ctx) => {
    const transport = asDefault(ctx)?.opts.transport;
    return transport === 'ws' || transport === 'wss';
  },
  is_crawler: (ctx) => CRAWLER_PATTERN.test(asDefault(ctx)?.opts.userAgent ?? ''),
  is_anonymous_user: (ctx) => asDefault(ctx)?.user === undefined,
};
