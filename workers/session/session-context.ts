/**
 * The shapes a session shares with the modules around it, and nothing else:
 * its subscriptions' options, its will, what a connection negotiated, the
 * one value a registration attaches a connection with, the host services a
 * session uses, and the narrow contexts its handler modules see (inbound
 * packets, subscriptions, deliveries, runtime checks, re-authentication,
 * registration). The session actor implements every context and passes
 * itself; the handler modules import these types, never the actor, so
 * dependencies point one way: actor → handlers → this module. Types only;
 * runs wherever the actor host runs.
 */
import type { EncodablePublish } from '../../src/shared/codec/publish.js';
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, QoS, UserProperties } from '../../src/shared/message/app-message.js';
import type { BrokerConfig } from '../../src/api/config.js';
import type { SubscriberId } from '../../src/api/hooks.js';
import type { SessionOptions, UserContext } from '../../src/api/runtime.js';
import type { Logger } from '../../src/shared/log.js';
import type { TransportInfo } from '../../src/shared/channel/frames.js';
import type { MaybePromise } from '../../src/shared/async.js';
import type { Authenticator, ConnectionAuth } from '../connect/authenticator.js';
import type { HostHooks } from '../hooks/host-hooks.js';
import type { HostRuntime } from '../runtime/host-runtime.js';
import type { PublishAcks } from '../publish-acks.js';
import type { Outgoing } from './outbound-flow.js';
import type { SessionLimits } from './session-limits.js';
import type { InboundAliases, OutboundAliases } from './topic-alias.js';

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionId: number;
}

export interface Will {
  message: AppMessage;
  delaySeconds: number;
}

/** Per-connection settings negotiated at CONNECT. */
export interface Negotiated {
  protocolVersion: number;
  keepalive: number;
  /** Largest packet the client accepts (its Maximum Packet Size, capped by ours). */
  maxOutgoingPacketSize: number;
  /** The client's Topic Alias Maximum: aliases we may use towards it. */
  topicAliasMaximum: number;
  /** False when the client asked for no Reason Strings outside PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]. */
  requestProblemInformation: boolean;
}

/** A connection accepted for a session: everything its registration decided, handed over at once. */
export interface Attachment {
  connId: number;
  transport: TransportInfo;
  /** The connection as the runtime sees it. */
  transportOptions: SessionOptions;
  negotiated: Negotiated;
  /** The client's Receive Maximum: the most QoS 1/2 messages it takes unacknowledged. */
  receiveMaximum: number;
  /** What the plugins' register modifiers set for this connection. */
  limits: SessionLimits;
  /** The user name of the connection, as plugins see it. */
  username: string | undefined;
  /** Seconds the session outlives this connection. */
  sessionExpiry: number;
  will: Will | undefined;
  /** Enhanced authentication of the connection, when its CONNECT named a method. */
  auth: ConnectionAuth | undefined;
  /** The user context the runtime's connect answered. */
  userContext: UserContext;
  /** The encoded CONNACK, sent first. */
  connack: Uint8Array;
  /** The largest packet the client may send when the modifiers changed it, else 0 (the main thread keeps the config's). */
  maxIncomingPacketSize: number;
  sessionPresent: boolean;
}

/** What a session and its handlers use from their actor host. */
export interface HostServices {
  readonly config: BrokerConfig;
  readonly log: Logger;
  /** Decides enhanced authentication (AUTH); undefined = every Authentication Method is refused. */
  readonly authenticator: Authenticator | undefined;
  /** The plugin chains of this host. */
  readonly hooks: HostHooks;
  /** The session runtime of this host. */
  readonly runtime: HostRuntime;
  /** With a session store: the acknowledgements that wait for the commits keeping their publishes. */
  readonly acks: PublishAcks | undefined;
}

/** Who a session is and how it answers its client: what every handler module sees. */
export interface SessionContext {
  readonly env: HostServices;
  readonly pool: string;
  readonly clientId: string;
  readonly subscriberId: SubscriberId;
  readonly protocolVersion: number;
  /** The user name of the current (or last) connection, as plugins see it. */
  readonly username: string | undefined;
  /** The runtime's user context. */
  readonly userContext: UserContext;
  send(bytes: Uint8Array): void;
  sendPacket(packet: mqttPacket.Packet): void;
  /** An acknowledgement with a Reason String on 5.0, when the client wants problem information and it fits. */
  /** Sends a 5.0 acknowledgement with a Reason String and User Properties, as far as the client asked for them and they fit. */
  sendWithReason(packet: mqttPacket.Packet, reasonString: string | undefined, userProperties?: UserProperties): void;
  /** `next(answer)` now, or once the promise settles while the same connection is still the session's. */
  whenAnswered<T>(answer: MaybePromise<T>, next: (value: T) => MaybePromise<void>): MaybePromise<void>;
}

/** What the plugin hook helpers read of a session. */
export type HookSubject = Pick<SessionContext, 'env' | 'subscriberId' | 'protocolVersion' | 'username'>;

/** The runtime's checks of a session's packets (is_valid_message, control_message). */
export interface RuntimeContext extends SessionContext {
  /** The current (or last) connection, as the runtime sees it. */
  readonly transportOptions: SessionOptions | undefined;
  /** control_message answered: its answer becomes the session's user context. */
  adoptUserContext(userContext: UserContext): void;
}

/** SUBSCRIBE and UNSUBSCRIBE of a connected client. */
export interface SubscribeContext extends SessionContext {
  /** Keeps `options` for `filter` and tells the router (retained messages per its Retain Handling). */
  subscribe(filter: string, options: SubscriptionOptions): void;
  /** Forgets `filter` and tells the router; false when there was no such subscription. */
  unsubscribe(filter: string): boolean;
}

/** Re-authentication (AUTH) on a connected session. */
export interface ReauthContext extends SessionContext {
  /** Enhanced authentication of the current connection, when its CONNECT named a method. */
  readonly connectionAuth: ConnectionAuth | undefined;
  fail(err: unknown): void;
  closeTransport(reasonCode: number, reasonString?: string): void;
}

/** Every packet of a connected client after CONNECT. */
export interface InboundContext extends SubscribeContext, ReauthContext, RuntimeContext {
  readonly limits: Readonly<SessionLimits>;
  /** Seconds the session outlives its transport. */
  readonly sessionExpiry: number;
  /** Topic aliases the client may use on this connection (5.0), if any. */
  readonly inboundAliases: InboundAliases | undefined;
  /** Takes a token of the incoming publish rate; false (and counted) when there is none. */
  takePublishToken(now: number): boolean;
  /** 3.1.1: takes a publish token, on credit when there is none, and throttles the connection until the debt is paid. */
  borrowPublishToken(now: number): void;
  /** Stops reading the client's connection for `ms`. */
  throttle(ms: number): void;
  /** Whether the inbound QoS 2 message `packetId` was received and waits for its PUBREL. */
  awaitsRelease(packetId: number): boolean;
  /** Inbound QoS 2 messages waiting for their PUBREL. */
  readonly awaitingRelease: number;
  /** The inbound QoS 2 message `packetId` was routed: it waits for its PUBREL. */
  holdForRelease(packetId: number): void;
  /** PUBREL: forgets `packetId`; false when it was not waiting. */
  releaseReceived(packetId: number): boolean;
  /** Routes a message published by the client (or its will), in the session's pool or in `pool` (a plugin's mountpoint). */
  publish(message: AppMessage, pool?: string): void;
  /**
   * Routes the client's QoS 1/2 message `packetId`: answers whether every
   * place that must keep it committed it (true at once without a store;
   * false when a commit failed).
   */
  publishKept(message: AppMessage, packetId: number, pool?: string): MaybePromise<boolean>;
  /**
   * Whether the inbound QoS 2 message `packetId` is kept: a promise while its
   * commits are pending, undefined when it was held before a restart and never
   * known to be kept (its resend is routed again).
   */
  keptRelease(packetId: number): MaybePromise<boolean> | undefined;
  /** Sends `bytes` once what the session changed so far is committed (at once without a store), if the same connection is still the session's. */
  sendAfterCommit(bytes: Uint8Array): void;
  /** `next(ok)` once `kept` settles, if the same connection is still the session's; later packets do not wait for it. */
  whenKept(kept: Promise<boolean>, next: (ok: boolean) => void): void;
  /** PUBACK, or PUBCOMP (`state` 'pubrel'), or a PUBREC refusing (`state` 'publish'): the slot frees, queued messages follow. */
  acknowledged(packetId: number, state: Outgoing['state']): void;
  /** PUBREC accepting: the message waits for PUBCOMP; false for an unknown packet id. */
  pubrecReceived(packetId: number): boolean;
  /** Normal DISCONNECT: the will goes unless `keepWill`; `sessionExpiry` replaces the session's when given. */
  clientDisconnected(keepWill: boolean, sessionExpiry?: number): void;
}

/** One outgoing PUBLISH on its way to the client's connection. */
export interface OutboundContext extends HookSubject {
  send(bytes: Uint8Array): void;
  /**
   * Sends a PUBLISH whose bytes are the same for every session of the same
   * encoding `key` (QoS 0, no properties): encoded once per message fanning
   * out, and written to every such connection from one buffer.
   */
  sendShared(key: number, packet: EncodablePublish): void;
  /** Largest packet the client accepts (0 = none). */
  readonly maxOutgoingPacketSize: number;
  /** Topic aliases used towards the client on this connection (5.0), if any. */
  readonly outboundAliases: OutboundAliases | undefined;
  /** Whether `o` still holds its inflight slot (it was not redispatched, the session did not end). */
  holdsInflight(o: Outgoing): boolean;
  /** `o` is over the client's Maximum Packet Size: skipped, counted, reported, its slot freed. */
  oversized(o: Outgoing): void;
}

/** A session as a CONNECT registering on it sees it. */
export interface RegisteringSession {
  readonly sid: number;
  readonly subscriberId: SubscriberId;
  readonly userContext: UserContext;
  readonly connected: boolean;
  /** A connection whose CONNECT is being registered on this session (its hooks still answering), if any. */
  readonly registering: number | undefined;
  /** In a cluster: the number of the claim that made this node the session's owner for its connection (0: none). */
  clusterClaim: number;
  /** A CONNECT is being registered on this session: it must not expire meanwhile. */
  holdFor(connId: number): void;
  /** The CONNECT registering on this session failed or went away before its CONNACK: the session is offline again. */
  abandon(connId: number): void;
  /** Takes the accepted connection: CONNACK, then what was unacknowledged and queued. */
  attach(attachment: Attachment): void;
  /** Another connection takes the session: its connection is closed (DISCONNECT 0x8E on 5.0). */
  takenOver(): void;
  end(): void;
}
