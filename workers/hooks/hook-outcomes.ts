/**
 * What the answers of the all_till_ok hooks do to a message or a packet:
 * auth_on_publish and on_deliver modifiers applied to an application message
 * (an invalid one is ignored), and a plugin's refusal turned into a reason
 * code (5.0 `{ error: { reasonCode, reasonString?, serverReference? } }`).
 * Pure functions; run wherever the actor host runs.
 */
import type { AppMessage, MessageProperties, QoS, UserProperties } from '../../src/shared/message/app-message.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { AckProperties, DeliverModifiers, PublishModifiers } from '../../src/api/hooks.js';
import { isValidTopicName } from '../../src/shared/topic/topic.js';
import { expiryDeadline } from '../../src/shared/message/expiry.js';

export interface Refusal {
  reasonCode: number;
  reasonString?: string;
  serverReference?: string;
}

/**
 * The reason code of a refusal. A 5.0 error object gives its own code (when it
 * is a failure code, 0x80 or above); `invalid_credentials` is a bad user name
 * or password; anything else (a string, an exception, an exhausted chain) is
 * `fallback`.
 */
export function refusalOf(reason: unknown, fallback: number): Refusal {
  if (typeof reason === 'object' && reason !== null && !(reason instanceof Error)) {
    const r = reason as Partial<Refusal>;
    if (typeof r.reasonCode === 'number' && r.reasonCode >= 0x80 && r.reasonCode <= 0xff) {
      const refusal: Refusal = { reasonCode: r.reasonCode };
      if (typeof r.reasonString === 'string') refusal.reasonString = r.reasonString;
      if (typeof r.serverReference === 'string') refusal.serverReference = r.serverReference;
      return refusal;
    }
  }
  if (reason === 'invalid_credentials') return { reasonCode: ReasonCode.BadUserNameOrPassword };
  return { reasonCode: fallback };
}

/** A copy of `message` with auth_on_publish modifiers applied (a bare Buffer is the payload). */
export function applyPublishModifiers(message: AppMessage, mods: PublishModifiers | Buffer | undefined, v5: boolean): AppMessage {
  if (mods === undefined) return message;
  if (Buffer.isBuffer(mods)) return { ...message, payload: mods };
  const out = applyDeliverModifiers(message, mods, v5);
  if (mods.qos === 0 || mods.qos === 1 || mods.qos === 2) out.qos = mods.qos as QoS;
  if (typeof mods.retain === 'boolean') out.retain = mods.retain;
  return out;
}

function isUserProperties(value: unknown): value is UserProperties {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')));
}

/** A plugin's properties for an acknowledgement (Reason String, User Properties); undefined when it gave none that are valid. */
export function ackPropertiesOf(value: unknown): AckProperties | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { reasonString, userProperties } = value as Record<string, unknown>;
  const out: AckProperties = {};
  if (typeof reasonString === 'string') out.reasonString = reasonString;
  if (isUserProperties(userProperties)) out.userProperties = userProperties;
  return out.reasonString === undefined && out.userProperties === undefined ? undefined : out;
}

/** The longest throttle a plugin can ask for, in ms: the most a timer can wait. */
const MAX_THROTTLE_MS = 0x7fffffff;

/** The `throttle` of auth_on_publish modifiers in whole ms; 0 for none (absent, not a positive number). */
export function throttleOf(mods: PublishModifiers | Buffer | undefined): number {
  if (mods === undefined || Buffer.isBuffer(mods)) return 0;
  const ms = mods.throttle;
  return typeof ms === 'number' && ms > 0 ? Math.min(MAX_THROTTLE_MS, Math.ceil(ms)) : 0;
}

/** The `mountpoint` of auth_on_publish modifiers: the pool the message is published in; undefined for the session's own. */
export function mountpointOf(mods: PublishModifiers | Buffer | undefined): string | undefined {
  if (mods === undefined || Buffer.isBuffer(mods)) return undefined;
  return typeof mods.mountpoint === 'string' ? mods.mountpoint : undefined;
}

/** A copy of `message` with on_deliver modifiers (topic, payload, 5.0 properties) applied. */
export function applyDeliverModifiers(message: AppMessage, mods: DeliverModifiers | Buffer | undefined, v5: boolean): AppMessage {
  if (mods === undefined || typeof mods !== 'object' || mods === null) return message;
  if (Buffer.isBuffer(mods)) return { ...message, payload: mods };
  const out: AppMessage = { ...message };
  if (typeof mods.topic === 'string' && isValidTopicName(mods.topic)) out.topic = mods.topic;
  if (mods.payload instanceof Uint8Array) out.payload = Buffer.isBuffer(mods.payload) ? mods.payload : Buffer.from(mods.payload);
  else if (typeof mods.payload === 'string') out.payload = Buffer.from(mods.payload);
  if (v5 && typeof mods.properties === 'object' && mods.properties !== null) {
    const { messageExpiryInterval, ...rest } = mods.properties as MessageProperties;
    if (Object.keys(rest).length > 0) out.properties = rest;
    else delete out.properties;
    if (messageExpiryInterval !== undefined) out.expiresAt = expiryDeadline(messageExpiryInterval);
  }
  return out;
}
