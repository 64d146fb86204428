/**
 * The plugin API: the session lifecycle hooks as VerneMQ names them (3.1.1
 * sessions call the plain hooks, 5.0 sessions the `_m5` ones), their
 * positional arguments, their chain kind, and the modifiers a plugin may
 * return. Types plus one table; used on every thread (the main thread for
 * in-process plugins, every actor host for module plugins).
 */
import type { MessageProperties, QoS, UserProperties } from '../shared/message/app-message.js';
import type { Logger } from '../shared/log.js';
import type { HookReturn } from '../shared/hooks/chain.js';
import type { DropReason } from '../shared/message/drop-reason.js';
import type { DisconnectClientOptions } from './server-disconnect.js';

/** The client's address (from the PROXY protocol header when there is one). */
export interface Peer {
  address: string;
  port: number;
}

/** Who a session belongs to: its mountpoint (the routing namespace, Shoal's pool; '' by default) and client id. */
export interface SubscriberId {
  mountpoint: string;
  clientId: string;
}

/** What an `all_till_ok` hook answers, at once or later. */
export type ChainResult<M> = HookReturn<M> | Promise<HookReturn<M>>;

/** An `all` hook's answer is ignored; a promise is awaited where the hook runs beside the session. */
export type Ignored = unknown;

/**
 * Modifiers of auth_on_register(_m5). Each applies to the session for this
 * connection; see README "Writing a plugin" for what each one does.
 */
export interface RegisterModifiers {
  subscriber_id?: SubscriberId;
  mountpoint?: string;
  clean_session?: boolean;
  clean_start?: boolean;
  /** Largest packet accepted from the client, in bytes (0 = the broker's). */
  max_message_size?: number;
  /** 5.0: a Reason String and User Properties for the CONNACK (VerneMQ's m5 `properties`); dropped first when it would not fit. */
  properties?: AckProperties;
  /** Incoming PUBLISH rate, messages per second (0 = no limit, as VerneMQ). */
  max_message_rate?: number;
  /** Unacknowledged QoS 1/2 messages sent to the client (0 = no cap beyond the client's Receive Maximum). */
  max_inflight_messages?: number;
  /** Seconds; stored only: Shoal resends unacknowledged messages on reconnect, as MQTT requires, not on a timer. */
  retry_interval?: number;
  /** Deliver at the subscription's QoS even when the message's is lower. */
  upgrade_qos?: boolean;
  max_online_messages?: number;
  max_offline_messages?: number;
  /** Shoal: byte cap of the queue while connected (maxOnlineBytes; 0 = none). */
  max_online_bytes?: number;
  /** Shoal: byte cap of the queue while disconnected (maxOfflineBytes; 0 = none). */
  max_offline_bytes?: number;
  /** 5.0: seconds (told in CONNACK when it differs from the client's). */
  session_expiry_interval?: number;
  /** 5.0: Receive Maximum advertised to the client (its unacknowledged QoS 2 publishes towards us). */
  receive_max?: number;
  /** 5.0: Topic Alias Maximum advertised to the client. */
  topic_alias_max?: number;
  /** 5.0: Maximum Packet Size advertised to the client and enforced on what it sends. */
  max_packet_size?: number;
}

/** Modifiers of auth_on_publish(_m5); a bare Buffer replaces the payload. */
export interface PublishModifiers {
  topic?: string;
  payload?: Buffer;
  qos?: QoS;
  retain?: boolean;
  /** 5.0: replaces the message's properties. */
  properties?: MessageProperties;
  /** The pool (mountpoint) the message is published in, instead of the session's own, as VerneMQ's `mountpoint`. */
  mountpoint?: string;
  /**
   * Milliseconds the client's connection stops reading, as VerneMQ's
   * `throttle`: the message itself goes on; what the client sends next
   * waits in the network until then.
   */
  throttle?: number;
}

/** Modifiers of on_deliver(_m5); a bare Buffer replaces the payload. */
export interface DeliverModifiers {
  topic?: string;
  payload?: Buffer;
  /** 5.0: replaces the message's properties. */
  properties?: MessageProperties;
}

/** One filter of a SUBSCRIBE as auth_on_subscribe and on_subscribe see it; the `_m5` hooks also get its subscription options. */
export interface SubscribeTopic {
  topic: string;
  qos: QoS;
  /** 5.0 No Local: the client's own messages are not sent back to it. */
  noLocal?: boolean;
  /** 5.0 Retain As Published: deliveries keep the RETAIN flag they were published with. */
  retainAsPublished?: boolean;
  /** 5.0 Retain Handling: 0 retained messages at every subscribe, 1 only when the subscription is new, 2 never. */
  retainHandling?: 0 | 1 | 2;
}

/**
 * What auth_on_subscribe may answer for each filter, in order: the filter to
 * use and its QoS (and, from `_m5`, its subscription options), or a refusal.
 */
export type SubscribeModifiers = Array<{ topic: string; qos: QoS | 'not_allowed' } & Omit<SubscribeTopic, 'topic' | 'qos'>>;

/** 5.0 properties a plugin adds to the SUBACK, UNSUBACK or CONNACK it answers for; left out when the client asked for no problem information. */
export interface AckProperties {
  reasonString?: string;
  userProperties?: UserProperties;
}

/** What auth_on_subscribe_m5 may answer besides the list alone: VerneMQ's map of `topics` and SUBACK `properties`. */
export interface SubscribeModifiersM5 {
  topics?: SubscribeModifiers;
  properties?: AckProperties;
}

/** What on_unsubscribe_m5 may answer besides the list alone: the filters to remove and UNSUBACK `properties`. */
export interface UnsubscribeModifiersM5 {
  topics?: string[];
  properties?: AckProperties;
}

/** A 5.0 refusal with its reason code (CONNACK, PUBACK/PUBREC, SUBACK). */
export interface M5Error {
  reasonCode: number;
  reasonString?: string;
  serverReference?: string;
}

/** on_auth_m5: the Authentication Method and Data of a CONNECT or AUTH packet. */
export interface AuthData {
  method: string;
  data: Buffer | undefined;
}

/** on_auth_m5 answers `{ ok: AuthModifiers }`: success (default) or continue, with data for the client. */
export interface AuthModifiers {
  reason_code?: 'success' | 'continue_authentication';
  auth_data?: Buffer;
}

/** A message on_message_drop is told about. */
export interface DroppedMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: MessageProperties;
}

export type { DropReason };

/** CONNECT properties of a 5.0 client, as mqtt-packet decodes them. */
export type ConnectProperties = Record<string, unknown>;

type User = string | undefined;

/** Every hook, with VerneMQ's positional arguments. A plugin implements any subset. */
export interface Hooks {
  auth_on_register(
    peer: Peer,
    subscriberId: SubscriberId,
    username: User,
    password: Buffer | undefined,
    cleanSession: boolean,
  ): ChainResult<RegisterModifiers>;
  auth_on_register_m5(
    peer: Peer,
    subscriberId: SubscriberId,
    username: User,
    password: Buffer | undefined,
    cleanStart: boolean,
    properties: ConnectProperties,
  ): ChainResult<RegisterModifiers>;
  on_auth_m5(username: User, subscriberId: SubscriberId, auth: AuthData): ChainResult<AuthModifiers>;
  on_register(peer: Peer, subscriberId: SubscriberId, username: User): Ignored;
  on_register_m5(peer: Peer, subscriberId: SubscriberId, username: User, properties: ConnectProperties): Ignored;
  on_client_wakeup(subscriberId: SubscriberId): Ignored;
  on_client_offline(subscriberId: SubscriberId): Ignored;
  on_client_gone(subscriberId: SubscriberId): Ignored;
  auth_on_publish(
    username: User,
    subscriberId: SubscriberId,
    qos: QoS,
    topic: string,
    payload: Buffer,
    isRetain: boolean,
  ): ChainResult<PublishModifiers | Buffer>;
  auth_on_publish_m5(
    username: User,
    subscriberId: SubscriberId,
    qos: QoS,
    topic: string,
    payload: Buffer,
    isRetain: boolean,
    properties: MessageProperties,
  ): ChainResult<PublishModifiers | Buffer>;
  on_publish(username: User, subscriberId: SubscriberId, qos: QoS, topic: string, payload: Buffer, isRetain: boolean): Ignored;
  on_publish_m5(
    username: User,
    subscriberId: SubscriberId,
    qos: QoS,
    topic: string,
    payload: Buffer,
    isRetain: boolean,
    properties: MessageProperties,
  ): Ignored;
  auth_on_subscribe(username: User, subscriberId: SubscriberId, topics: SubscribeTopic[]): ChainResult<SubscribeModifiers>;
  auth_on_subscribe_m5(
    username: User,
    subscriberId: SubscriberId,
    topics: SubscribeTopic[],
    properties: Record<string, unknown>,
  ): ChainResult<SubscribeModifiers | SubscribeModifiersM5>;
  on_subscribe(username: User, subscriberId: SubscriberId, topics: SubscribeTopic[]): Ignored;
  on_subscribe_m5(username: User, subscriberId: SubscriberId, topics: SubscribeTopic[], properties: Record<string, unknown>): Ignored;
  on_unsubscribe(username: User, subscriberId: SubscriberId, topics: string[]): ChainResult<string[]>;
  on_unsubscribe_m5(
    username: User,
    subscriberId: SubscriberId,
    topics: string[],
    properties: Record<string, unknown>,
  ): ChainResult<string[] | UnsubscribeModifiersM5>;
  on_deliver(
    username: User,
    subscriberId: SubscriberId,
    qos: QoS,
    topic: string,
    payload: Buffer,
    isRetain: boolean,
  ): ChainResult<DeliverModifiers | Buffer>;
  on_deliver_m5(
    username: User,
    subscriberId: SubscriberId,
    qos: QoS,
    topic: string,
    payload: Buffer,
    isRetain: boolean,
    properties: MessageProperties,
  ): ChainResult<DeliverModifiers | Buffer>;
  on_offline_message(subscriberId: SubscriberId, qos: QoS, topic: string, payload: Buffer, isRetain: boolean): Ignored;
  on_session_expired(subscriberId: SubscriberId): Ignored;
  /** Subscriptions went: the filters an UNSUBSCRIBE removed, or `all_topics` when the session ended (clean teardown, expiry, a clean start). */
  on_topic_unsubscribed(subscriberId: SubscriberId, topics: string[] | 'all_topics'): Ignored;
  on_message_drop(subscriberId: SubscriberId, message: DroppedMessage, reason: DropReason): Ignored;
}

export type HookName = keyof Hooks;

/** A plugin: any subset of the hooks (called with the plugin as `this`), and a name for logs. */
export type Plugin = Partial<Hooks> & { name?: string };

/** What a plugin module may default-export instead of a plugin: a factory, called once per actor host. */
export type PluginFactory = (context: PluginContext) => Plugin | Promise<Plugin>;

export interface PluginContext {
  /** Index of the actor host loading the module (every host loads it once). */
  hostIndex: number;
  /** The plugin's own logger (pino). */
  log: Logger;
  /** The `options` of its `config.plugins` entry (`{}` for a plain specifier string). */
  options: Readonly<Record<string, unknown>>;
  /**
   * Disconnects a connected client as `broker.disconnectClient` does, whichever
   * actor host holds its session: a 5.0 client gets DISCONNECT with
   * `reasonCode` (default 0x98 Administrative action), the Reason String and
   * the Server Reference (0x9C Use another server, 0x9D Server moved with
   * `serverReference` redirect it); a 3.1.1 client is just closed. Its will
   * is published and its session lives on per its expiry. Resolves with
   * whether the client (of `options.pool`, default `''`) was connected;
   * rejects with a RangeError or TypeError on an option the broker's own call
   * refuses. The answer comes once the host has loaded its plugins, so a
   * factory must not wait for it.
   */
  disconnectClient(clientId: string, options?: DisconnectClientOptions): Promise<boolean>;
}

/**
 * One entry of `config.plugins`: a module specifier (a path starting with '.'
 * or '/', a package name, or a bundled plugin: `shoal/passwd`, `shoal/acl`),
 * or `{ module, options }` to hand the factory options (structured-cloneable,
 * since every actor host gets a copy).
 */
export type PluginSpec = string | { module: string; options?: Record<string, unknown> };

/** How each hook's chain runs (src/shared/hooks/chain.ts). */
export const HOOK_KINDS: Readonly<Record<HookName, 'all_till_ok' | 'all'>> = {
  auth_on_register: 'all_till_ok',
  auth_on_register_m5: 'all_till_ok',
  on_auth_m5: 'all_till_ok',
  on_register: 'all',
  on_register_m5: 'all',
  on_client_wakeup: 'all',
  on_client_offline: 'all',
  on_client_gone: 'all',
  auth_on_publish: 'all_till_ok',
  auth_on_publish_m5: 'all_till_ok',
  on_publish: 'all',
  on_publish_m5: 'all',
  auth_on_subscribe: 'all_till_ok',
  auth_on_subscribe_m5: 'all_till_ok',
  on_subscribe: 'all',
  on_subscribe_m5: 'all',
  on_unsubscribe: 'all_till_ok',
  on_unsubscribe_m5: 'all_till_ok',
  on_deliver: 'all_till_ok',
  on_deliver_m5: 'all_till_ok',
  on_offline_message: 'all',
  on_session_expired: 'all',
  on_topic_unsubscribed: 'all',
  on_message_drop: 'all',
};

export function isHookName(name: string): name is HookName {
  return Object.prototype.hasOwnProperty.call(HOOK_KINDS, name);
}

/** The hooks `plugin` implements. */
export function implementedHooks(plugin: object): HookName[] {
  return (Object.keys(HOOK_KINDS) as HookName[]).filter((hook) => typeof (plugin as Record<string, unknown>)[hook] === 'function');
}
