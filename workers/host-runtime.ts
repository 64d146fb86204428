/**
 * The session runtime as an actor host runs it: the loaded runtime (the
 * default one until `config.runtime` is loaded), whether its `is_allowed` and
 * `is_valid_message` are its own (with the default runtime they are never
 * called: always true), the session options of a transport, and the expiry
 * a session gets when its transport goes away. Runs wherever the actor host runs.
 */
import type { BrokerConfig } from '../src/config.js';
import type { TransportInfo } from '../src/messages.js';
import { defaultRuntime } from '../src/runtime/default-runtime.js';
import type { Action, MaybePromise, Runtime, SessionOptions, UserContext } from '../src/runtime/types.js';

export class HostRuntime {
  runtime: Runtime = defaultRuntime;
  /** The runtime has its own is_allowed. */
  checksAccess = false;
  /** The runtime has its own is_valid_message. */
  checksMessages = false;

  set(runtime: Runtime): void {
    this.runtime = runtime;
    this.checksAccess = runtime.is_allowed !== defaultRuntime.is_allowed;
    this.checksMessages = runtime.is_valid_message !== defaultRuntime.is_valid_message;
  }

  /** is_allowed, or true at once when the runtime does not check access. */
  allowed(action: Action, topic: string, packet: object, userContext: UserContext): MaybePromise<boolean> {
    return this.checksAccess ? this.runtime.is_allowed(action, topic, packet, userContext) : true;
  }

  /**
   * Seconds a session stays after its transport went away: the negotiated
   * expiry, shortened (never lengthened) for an anonymous WebSocket session
   * to wsAnonymousSessionExpiry, or wsCrawlerSessionExpiry for a crawler.
   */
  expiryAfterDisconnect(config: BrokerConfig, negotiated: number, userContext: UserContext): number {
    const { runtime } = this;
    if (negotiated === 0 || !runtime.is_websocket_origin(userContext) || !runtime.is_anonymous_user(userContext)) return negotiated;
    const cap = runtime.is_crawler(userContext) ? config.wsCrawlerSessionExpiry : config.wsAnonymousSessionExpiry;
    return Math.min(negotiated, cap);
  }
}

/** The session options of a connection. */
export function sessionOptions(transport: TransportInfo): SessionOptions {
  const opts: SessionOptions = { transport: transport.type, peer: { address: transport.remoteAddress, port: transport.remotePort } };
  if (transport.origin !== undefined) opts.origin = transport.origin;
  if (transport.userAgent !== undefined) opts.userAgent = transport.userAgent;
  return opts;
}
