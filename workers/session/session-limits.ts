/**
 * The settings of one session that auth_on_register(_m5) modifiers may
 * change: resolved at each CONNECT from the broker config and the modifiers
 * (an invalid modifier is logged and ignored), and the QoS upgrade
 * (`upgrade_qos`) applied to a delivery. Lives inside a session actor; runs
 * wherever the actor host runs.
 */
import type { QoS } from '../../src/shared/message/app-message.js';
import type { BrokerConfig } from '../../src/api/config.js';
import type { AckProperties, RegisterModifiers, SubscriberId } from '../../src/api/hooks.js';
import { ackPropertiesOf } from '../hooks/hook-outcomes.js';
import type { Logger } from '../../src/shared/log.js';
import type { DeliveryTarget } from '../../src/shared/channel/frames.js';
import { SHARE_PREFIX, topicMatches } from '../../src/shared/topic/topic.js';

export interface SessionLimits {
  maxInflightMessages: number;
  maxOnlineMessages: number;
  maxOfflineMessages: number;
  /** Estimated bytes of the queues (0 = no byte cap). */
  maxOnlineBytes: number;
  maxOfflineBytes: number;
  /** Largest packet the client may send, in bytes (enforced by its connection on the main thread). */
  maxIncomingPacketSize: number;
  /** Incoming PUBLISH rate (the token bucket's refill), messages per second; Infinity for no limit. */
  maxMessageRate: number;
  /** Our Receive Maximum towards a 5.0 client: its unacknowledged QoS 2 publishes. */
  receiveMaximum: number;
  /** Our Topic Alias Maximum towards a 5.0 client. */
  topicAliasMaximum: number;
  upgradeQos: boolean;
  /** Seconds; kept for plugins that set it, unused: Shoal resends unacknowledged messages on reconnect only. */
  retryInterval: number;
}

/** Who the session is and how it starts, after the modifiers. */
export interface Registration {
  subscriberId: SubscriberId;
  cleanStart: boolean;
  /** The session expiry the modifiers set (5.0), if any; otherwise the connect handler's. */
  sessionExpiry: number | undefined;
  limits: SessionLimits;
  /** 5.0: what the modifiers add to the CONNACK. */
  connackProperties?: AckProperties;
}

const UNLIMITED_INFLIGHT = 65535;

export function defaultLimits(config: BrokerConfig): SessionLimits {
  return {
    maxInflightMessages: config.maxInflightMessages,
    maxOnlineMessages: config.maxOnlineMessages,
    maxOfflineMessages: config.maxOfflineMessages,
    maxOnlineBytes: config.maxOnlineBytes,
    maxOfflineBytes: config.maxOfflineBytes,
    maxIncomingPacketSize: config.maxIncomingPacketSize,
    maxMessageRate: config.maxIncomingMessagesRate,
    receiveMaximum: config.receiveMaximum,
    topicAliasMaximum: config.topicAliasMaximum,
    upgradeQos: false,
    retryInterval: 20,
  };
}

/** Applies `mods` (from auth_on_register, or none) to the CONNECT's identity and the config's limits. */
export function applyRegisterModifiers(
  config: BrokerConfig,
  subscriberId: SubscriberId,
  cleanStart: boolean,
  mods: RegisterModifiers | undefined,
  v5: boolean,
  log: Logger,
): Registration {
  const limits = defaultLimits(config);
  const reg: Registration = { subscriberId, cleanStart, sessionExpiry: undefined, limits };
  if (mods === undefined || typeof mods !== 'object' || mods === null) return reg;
  const bad = (field: string, value: unknown): void => log.warn({ field, value }, 'invalid auth_on_register modifier ignored');
  const count = (field: keyof RegisterModifiers, max: number): number | undefined => {
    const value = mods[field];
    if (value === undefined) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
    bad(field, value);
    return undefined;
  };
  const flag = (field: keyof RegisterModifiers): boolean | undefined => {
    const value = mods[field];
    if (value === undefined || typeof value === 'boolean') return value as boolean | undefined;
    bad(field, value);
    return undefined;
  };
  const sid = mods.subscriber_id;
  if (sid !== undefined) {
    if (
      typeof sid === 'object' &&
      sid !== null &&
      typeof sid.clientId === 'string' &&
      sid.clientId !== '' &&
      typeof sid.mountpoint === 'string'
    ) {
      reg.subscriberId = { mountpoint: sid.mountpoint, clientId: sid.clientId };
    } else bad('subscriber_id', sid);
  }
  if (mods.mountpoint !== undefined) {
    if (typeof mods.mountpoint === 'string') reg.subscriberId = { ...reg.subscriberId, mountpoint: mods.mountpoint };
    else bad('mountpoint', mods.mountpoint);
  }
  reg.cleanStart = flag(v5 ? 'clean_start' : 'clean_session') ?? cleanStart;
  const inflight = count('max_inflight_messages', UNLIMITED_INFLIGHT);
  if (inflight !== undefined) limits.maxInflightMessages = inflight === 0 ? UNLIMITED_INFLIGHT : inflight;
  limits.maxOnlineMessages = count('max_online_messages', 100_000_000) ?? limits.maxOnlineMessages;
  limits.maxOfflineMessages = count('max_offline_messages', 100_000_000) ?? limits.maxOfflineMessages;
  limits.maxOnlineBytes = count('max_online_bytes', Number.MAX_SAFE_INTEGER) ?? limits.maxOnlineBytes;
  limits.maxOfflineBytes = count('max_offline_bytes', Number.MAX_SAFE_INTEGER) ?? limits.maxOfflineBytes;
  const rate = count('max_message_rate', 1e9);
  if (rate !== undefined) limits.maxMessageRate = rate === 0 ? Infinity : rate;
  limits.upgradeQos = flag('upgrade_qos') ?? false;
  limits.retryInterval = count('retry_interval', 0xffffffff) ?? limits.retryInterval;
  limits.maxIncomingPacketSize = minLimit(limits.maxIncomingPacketSize, count('max_message_size', 268435455) ?? 0);
  if (!v5) return reg;
  if (mods.properties !== undefined) {
    const connackProperties = ackPropertiesOf(mods.properties);
    if (connackProperties === undefined) bad('properties', mods.properties);
    else reg.connackProperties = connackProperties;
  }
  limits.maxIncomingPacketSize = minLimit(limits.maxIncomingPacketSize, count('max_packet_size', 268435455) ?? 0);
  reg.sessionExpiry = count('session_expiry_interval', 0xffffffff);
  const receiveMax = count('receive_max', 65535);
  if (receiveMax) limits.receiveMaximum = receiveMax;
  limits.topicAliasMaximum = count('topic_alias_max', 65535) ?? limits.topicAliasMaximum;
  return reg;
}

/** The smaller of two limits where 0 means none. */
export function minLimit(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/**
 * `upgrade_qos`: the QoS of the subscription that matched (the highest of the
 * session's matching filters), instead of the lower one of the message.
 */
export function upgradedQos(subscriptions: ReadonlyMap<string, { readonly qos: QoS }>, topic: string, target: DeliveryTarget): QoS {
  if (target.share !== undefined) return subscriptions.get(target.share)?.qos ?? target.qos;
  let qos = target.qos;
  for (const [filter, options] of subscriptions) {
    if (options.qos > qos && !filter.startsWith(SHARE_PREFIX) && topicMatches(filter, topic)) qos = options.qos;
  }
  return qos;
}
