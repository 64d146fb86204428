/**
 * The session runtime API, after zotonic's mqtt_sessions: the callbacks of a
 * runtime object (snake_case, as mqtt_sessions names them), the options a
 * session is described with, and what `connect` and `reauth` answer. The
 * runtime decides after the plugin chain (it has the last word: both must
 * allow). Types only; used on every thread.
 */
import type { Logger } from '../shared/log.js';
import type { MaybePromise } from '../shared/async.js';
import type { TransportName } from '../shared/transport.js';

/** The runtime's own state of a session, opaque to the broker. */
export type UserContext = unknown;

export type { MaybePromise };

/** The connection a session is (re)attached from. */
export interface SessionOptions {
  transport: TransportName;
  peer: { address: string; port: number };
  /** The Origin header of the WebSocket upgrade request, when there is one. */
  origin?: string;
  /** The User-Agent header of the WebSocket upgrade request, when there is one. */
  userAgent?: string;
}

/**
 * The answer of `connect`: reason code 0 accepts (any other, a 5.0 CONNACK
 * code, refuses; 3.1.1 gets its nearest return code) and the session's new
 * user context.
 */
export interface ConnectAnswer {
  reasonCode: number;
  reasonString?: string;
  /** 5.0, with a refusal 0x9C Use another server or 0x9D Server moved: where the client should go. */
  serverReference?: string;
  userContext: UserContext;
}

/** One step of an enhanced authentication exchange handed to `reauth`. */
export interface ReauthRequest {
  method: string;
  data: Buffer | undefined;
  /** False at CONNECT, true for a re-authentication (AUTH 0x19 and what follows). */
  reauthentication: boolean;
}

/** What `reauth` answers: a step of the exchange, or `not_supported` (0x8C). */
export type ReauthAnswer =
  { outcome: 'continue' | 'success'; data?: Buffer } | { outcome: 'failure'; reasonCode?: number; reasonString?: string } | 'not_supported';

export type Action = 'publish' | 'subscribe';

/**
 * A runtime. A module may implement any subset: the default runtime
 * (default-runtime.ts) answers the rest. `vhost_pool`, `pool_default`,
 * `new_user_context`, `is_websocket_origin`, `is_crawler` and
 * `is_anonymous_user` answer synchronously; the others may return a promise.
 */
export interface Runtime {
  /**
   * The pool of a client whose username is `vhost:user`; undefined refuses
   * the client (CONNACK 0x88). A runtime that implements it asks for pools by
   * username: the vhost is what comes before `vhostSeparator`, or before ':'
   * when that is ''.
   */
  vhost_pool(vhost: string): string | undefined;
  /** The pool of a client without a vhost in its username, on a listener without a pool. */
  pool_default(): string;
  /** The user context of a session created by this CONNECT. */
  new_user_context(pool: string, clientId: string, opts: SessionOptions): UserContext;
  /** Every CONNECT that passed the plugins' auth_on_register, before the session is taken over, resumed or created. */
  connect(packet: ConnectPacket, sessionPresent: boolean, opts: SessionOptions, userContext: UserContext): MaybePromise<ConnectAnswer>;
  /** Each step of an enhanced authentication when no plugin implements on_auth_m5. */
  reauth(request: ReauthRequest, userContext: UserContext): MaybePromise<ReauthAnswer>;
  /**
   * After the plugins allowed it: an inbound PUBLISH and the will ('publish',
   * topic name), each SUBSCRIBE filter ('subscribe', filter), and each
   * retained message delivered on subscribe ('subscribe', its topic name).
   */
  is_allowed(action: Action, topic: string, packet: object, userContext: UserContext): MaybePromise<boolean>;
  /** Every decoded packet after CONNECT; false disconnects (5.0: DISCONNECT 0x82). */
  is_valid_message(packet: object, opts: SessionOptions, userContext: UserContext): MaybePromise<boolean>;
  /** A QoS 0 PUBLISH to `$client/<own client id>/<rest>`: not routed; answers the new user context. */
  control_message(rest: string, packet: object, userContext: UserContext): MaybePromise<UserContext>;
  is_websocket_origin(userContext: UserContext): boolean;
  is_crawler(userContext: UserContext): boolean;
  is_anonymous_user(userContext: UserContext): boolean;
}

/** The CONNECT as `connect` sees it (mqtt-packet's fields); `username` is the user part of a `vhost:user` name when usernames carry a vhost. */
export interface ConnectPacket {
  clientId: string;
  protocolVersion?: number;
  username?: string;
  password?: Buffer;
  clean?: boolean;
  keepalive?: number;
  properties?: Record<string, unknown>;
}

/** What a runtime module may default-export instead of a runtime: a factory, called once per actor host. */
export type RuntimeFactory = (context: RuntimeContext) => Partial<Runtime> | Promise<Partial<Runtime>>;

export interface RuntimeContext {
  hostIndex: number;
  log: Logger;
  /** The `options` of `config.runtime` (`{}` for a plain specifier string). */
  options: Readonly<Record<string, unknown>>;
}

/** `config.runtime`: '' (the default runtime), a module specifier, or `{ module, options }`. */
export type RuntimeSpec = string | { module: string; options?: Record<string, unknown> };
