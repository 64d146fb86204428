/**
 * The session lifecycle hooks nobody waits for, called with VerneMQ's
 * arguments: on_client_offline / on_client_gone when a session loses its
 * transport, on_session_expired, on_topic_unsubscribed, on_offline_message, on_message_drop; and the
 * argument list of the message hooks (auth_on_publish, on_publish,
 * on_deliver), which differ only by the 5.0 properties at the end.
 * Runs wherever the actor host runs.
 */
import type { AppMessage, QoS } from '../../src/shared/message/app-message.js';
import type { DropReason, DroppedMessage, HookName } from '../../src/api/hooks.js';
import type { HookSubject } from './session-context.js';

/** The session lost its last transport: gone when it ends with it (`expiry` 0), offline otherwise. */
export function notifyTransportLost(session: HookSubject, expiry: number): void {
  session.env.hooks.notify(expiry === 0 ? 'on_client_gone' : 'on_client_offline', [session.subscriberId]);
}

export function notifyExpired(session: HookSubject): void {
  session.env.hooks.notify('on_session_expired', [session.subscriberId]);
}

/** Subscriptions went: `topics` removed by an UNSUBSCRIBE, or all of them with the session. */
export function notifyTopicsUnsubscribed(session: HookSubject, topics: string[] | 'all_topics'): void {
  session.env.hooks.notify('on_topic_unsubscribed', [session.subscriberId, topics]);
}

/** A message was queued while the session had no transport. */
export function notifyOfflineMessage(session: HookSubject, message: AppMessage, qos: QoS, retain: boolean): void {
  const { hooks } = session.env;
  if (!hooks.has('on_offline_message')) return;
  hooks.notify('on_offline_message', [session.subscriberId, qos, message.topic, message.payload, retain]);
}

export function notifyDrop(session: HookSubject, message: AppMessage, qos: QoS, reason: DropReason): void {
  const { hooks } = session.env;
  if (!hooks.has('on_message_drop')) return;
  const dropped: DroppedMessage = { topic: message.topic, payload: message.payload, qos, retain: message.retain };
  if (message.properties) dropped.properties = message.properties;
  hooks.notify('on_message_drop', [session.subscriberId, dropped, reason]);
}

type Versioned = 'auth_on_publish' | 'on_publish' | 'on_deliver' | 'auth_on_subscribe' | 'on_subscribe' | 'on_unsubscribe';

const M5: Readonly<Record<Versioned, HookName>> = {
  auth_on_publish: 'auth_on_publish_m5',
  on_publish: 'on_publish_m5',
  on_deliver: 'on_deliver_m5',
  auth_on_subscribe: 'auth_on_subscribe_m5',
  on_subscribe: 'on_subscribe_m5',
  on_unsubscribe: 'on_unsubscribe_m5',
};

/** `hook` (plain name) for the session's protocol version: its `_m5` twin for 5.0. */
export function versioned(session: HookSubject, hook: Versioned): HookName {
  return session.protocolVersion === 5 ? M5[hook] : hook;
}

/** (username, subscriberId, qos, topic, payload, isRetain[, properties]) of the message hooks. */
export function messageArgs(session: HookSubject, message: AppMessage, qos: QoS, retain: boolean): unknown[] {
  const args: unknown[] = [session.username, session.subscriberId, qos, message.topic, message.payload, retain];
  if (session.protocolVersion === 5) args.push(message.properties ?? {});
  return args;
}
