/**
 * SUBSCRIBE and UNSUBSCRIBE of a connected client: filter checks,
 * auth_on_subscribe(_m5) (which may rewrite or refuse filters), then the
 * runtime's is_allowed('subscribe') per filter it kept, the
 * session's subscribe / unsubscribe (its own copy, and the router's; shared
 * `$share/{group}/{filter}` ones included), on_subscribe(_m5)
 * before the SUBACK, on_unsubscribe(_m5) (which may rewrite the filters)
 * before the removal, and the UNSUBACK. The `_m5` hooks see each filter's
 * subscription options and may add a Reason String and User Properties to
 * the SUBACK or UNSUBACK. A handler returns a promise only when a plugin
 * answered with one. Runs wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import type { QoS } from '../../src/shared/message/app-message.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { type ChainOutcome } from '../../src/shared/hooks/chain.js';
import type {
  AckProperties,
  SubscribeModifiers,
  SubscribeModifiersM5,
  SubscribeTopic,
  UnsubscribeModifiersM5,
} from '../../src/api/hooks.js';
import { isValidTopicFilter, parseSharedFilter, topicLevelCount } from '../../src/shared/topic/topic.js';
import { ackPropertiesOf, refusalOf } from '../hooks/hook-outcomes.js';
import type { SubscribeContext } from './session-context.js';
import { versioned } from './session-hooks.js';
import { isPromise } from '../../src/shared/async.js';

/** SUBACK return code of a refused subscription on 3.1.1. */
const V3_FAILURE = 0x80;

/** A valid filter of the SUBSCRIBE and its position in the SUBACK. */
interface Asked {
  index: number;
  sub: mqttPacket.ISubscription;
}

interface SubackState {
  codes: number[];
  problems: string[];
  /** What auth_on_subscribe_m5 added to the SUBACK. */
  properties?: AckProperties;
}

/** A filter of the SUBSCRIBE as the hooks see it: with its subscription options on 5.0. */
function hookTopic(sub: mqttPacket.ISubscription, v5: boolean): SubscribeTopic {
  if (!v5) return { topic: sub.topic, qos: sub.qos };
  return {
    topic: sub.topic,
    qos: sub.qos,
    noLocal: sub.nl === true,
    retainAsPublished: sub.rap === true,
    retainHandling: (sub.rh ?? 0) as 0 | 1 | 2,
  };
}

/** The filter list of an auth_on_subscribe answer, and from `_m5` the SUBACK properties of VerneMQ's `{ topics, properties }` form. */
function subscribeAnswer(mods: SubscribeModifiers | SubscribeModifiersM5 | undefined, v5: boolean): SubscribeModifiersM5 {
  if (mods === undefined || Array.isArray(mods)) return { topics: mods };
  if (!v5 || typeof mods !== 'object' || mods === null) return { topics: mods as unknown as SubscribeModifiers };
  const answer: SubscribeModifiersM5 = { topics: mods.topics };
  const properties = ackPropertiesOf(mods.properties);
  if (properties !== undefined) answer.properties = properties;
  return answer;
}

/** A subscription option from a plugin's rewrite, when it is a valid one, else the client's. */
function optionOf<T>(value: unknown, valid: (v: unknown) => v is T, fallback: T): T {
  return valid(value) ? value : fallback;
}
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isRetainHandling = (v: unknown): v is 0 | 1 | 2 => v === 0 || v === 1 || v === 2;

export function handleSubscribe(session: SubscribeContext, packet: mqttPacket.ISubscribePacket): void | Promise<void> {
  const v5 = session.protocolVersion === 5;
  const { config, hooks } = session.env;
  if (packet.subscriptions.length === 0)
    throw new ProtocolError(ReasonCode.ProtocolError, 'SUBSCRIBE without a topic filter [MQTT-3.8.3-2]');
  if (v5 && packet.subscriptions.some((s) => s.nl === true && parseSharedFilter(s.topic) !== undefined)) {
    throw new ProtocolError(ReasonCode.ProtocolError, 'No Local on a shared subscription [MQTT-3.8.3-4]');
  }
  const state: SubackState = { codes: new Array<number>(packet.subscriptions.length), problems: [] };
  const invalid: string[] = [];
  const asked: Asked[] = [];
  packet.subscriptions.forEach((sub, index) => {
    if (validFilter(sub.topic, config.maxTopicLength, config.maxTopicLevels)) {
      asked.push({ index, sub });
      return;
    }
    state.codes[index] = v5 ? ReasonCode.TopicFilterInvalid : V3_FAILURE;
    invalid.push(sub.topic);
  });
  if (invalid.length > 0) state.problems.push(`invalid topic filter: ${invalid.join(', ')}`);
  const hook = versioned(session, 'auth_on_subscribe');
  if (asked.length === 0 || !hooks.has(hook)) return runtimeAllowed(session, packet, asked, state);
  const args: unknown[] = [session.username, session.subscriberId, asked.map((a) => hookTopic(a.sub, v5))];
  if (v5) args.push(packet.properties ?? {});
  const outcome = hooks.tillOk<SubscribeModifiers | SubscribeModifiersM5>(hook, args);
  const decide = (o: ChainOutcome<SubscribeModifiers | SubscribeModifiersM5>): void | Promise<void> =>
    runtimeAllowed(session, packet, authorize(session, asked, o, state), state);
  return session.whenAnswered(outcome, decide);
}

function validFilter(filter: string, maxLength: number, maxLevels: number): boolean {
  return (
    parseSharedFilter(filter) !== null &&
    isValidTopicFilter(filter) &&
    Buffer.byteLength(filter) <= maxLength &&
    topicLevelCount(filter) <= maxLevels
  );
}

/**
 * auth_on_subscribe's answer: `ok` keeps the filters, `{ ok: [...] }` rewrites
 * or refuses each one (same length and order as asked), anything else refuses
 * them all (3.1.1: 0x80; 5.0: the plugin's reason code, default 0x87).
 */
function authorize(
  session: SubscribeContext,
  asked: Asked[],
  outcome: ChainOutcome<SubscribeModifiers | SubscribeModifiersM5>,
  state: SubackState,
): Asked[] {
  const v5 = session.protocolVersion === 5;
  const { config } = session.env;
  const denied = v5 ? ReasonCode.NotAuthorized : V3_FAILURE;
  if (outcome.kind === 'ok') {
    const { topics: mods, properties } = subscribeAnswer(outcome.modifiers, v5);
    if (properties !== undefined) state.properties = properties;
    if (mods === undefined) return asked;
    if (Array.isArray(mods) && mods.length === asked.length) {
      const allowed: Asked[] = [];
      asked.forEach((a, k) => {
        const m = mods[k];
        const qos = m?.qos;
        if (
          m &&
          (qos === 0 || qos === 1 || qos === 2) &&
          typeof m.topic === 'string' &&
          validFilter(m.topic, config.maxTopicLength, config.maxTopicLevels)
        ) {
          const sub: mqttPacket.ISubscription = { ...a.sub, topic: m.topic, qos: qos as QoS };
          if (v5) {
            sub.nl = optionOf(m.noLocal, isBoolean, sub.nl === true);
            sub.rap = optionOf(m.retainAsPublished, isBoolean, sub.rap === true);
            sub.rh = optionOf(m.retainHandling, isRetainHandling, sub.rh ?? 0);
          }
          allowed.push({ index: a.index, sub });
        } else {
          state.codes[a.index] = denied;
        }
      });
      if (allowed.length < asked.length) state.problems.push('not authorized');
      return allowed;
    }
    session.env.log.warn(
      { clientId: session.clientId, modifiers: mods },
      'auth_on_subscribe modifiers must list every filter; refusing them all',
    );
  }
  const code = v5 && outcome.kind === 'error' ? refusalOf(outcome.reason, ReasonCode.NotAuthorized).reasonCode : denied;
  for (const a of asked) state.codes[a.index] = code;
  state.problems.push('not authorized');
  return [];
}

/**
 * The runtime's is_allowed('subscribe', filter, SUBSCRIBE packet) for each
 * filter the plugins allowed; a refused one gets 0x87 (3.1.1: 0x80).
 */
function runtimeAllowed(
  session: SubscribeContext,
  packet: mqttPacket.ISubscribePacket,
  allowed: Asked[],
  state: SubackState,
): void | Promise<void> {
  const { runtime } = session.env;
  if (!runtime.checksAccess || allowed.length === 0) return store(session, packet, allowed, state);
  const answers = allowed.map((a) => runtime.allowed('subscribe', a.sub.topic, packet, session.userContext));
  const decide = (oks: readonly boolean[]): void | Promise<void> => {
    const denied = session.protocolVersion === 5 ? ReasonCode.NotAuthorized : V3_FAILURE;
    const kept = allowed.filter((a, i) => {
      if (oks[i] === true) return true;
      state.codes[a.index] = denied;
      return false;
    });
    if (kept.length < allowed.length) state.problems.push('not authorized');
    return store(session, packet, kept, state);
  };
  if (!answers.some(isPromise)) return decide(answers as boolean[]);
  return session.whenAnswered(Promise.all(answers), decide);
}

/** Stores the allowed subscriptions, calls on_subscribe(_m5), then answers SUBACK. */
function store(session: SubscribeContext, packet: mqttPacket.ISubscribePacket, allowed: Asked[], state: SubackState): void | Promise<void> {
  const v5 = session.protocolVersion === 5;
  const subscriptionId = packet.properties?.subscriptionIdentifier ?? 0;
  for (const { index, sub } of allowed) {
    const qos = sub.qos;
    session.subscribe(sub.topic, {
      qos,
      noLocal: v5 && sub.nl === true,
      retainAsPublished: v5 && sub.rap === true,
      retainHandling: v5 ? (sub.rh ?? 0) : 0,
      subscriptionId,
    });
    state.codes[index] = qos;
  }
  const suback = (): void => {
    const packetOut: mqttPacket.ISubackPacket = { cmd: 'suback', messageId: packet.messageId!, granted: state.codes };
    const reasons = state.properties?.reasonString === undefined ? state.problems : [state.properties.reasonString, ...state.problems];
    const userProperties = state.properties?.userProperties;
    if (reasons.length === 0 && userProperties === undefined) session.sendPacket(packetOut);
    else session.sendWithReason(packetOut, reasons.length === 0 ? undefined : reasons.join('; '), userProperties);
  };
  const { hooks } = session.env;
  const hook = versioned(session, 'on_subscribe');
  if (allowed.length === 0 || !hooks.has(hook)) return suback();
  const args: unknown[] = [session.username, session.subscriberId, allowed.map((a) => hookTopic(a.sub, v5))];
  if (v5) args.push(packet.properties ?? {});
  return session.whenAnswered(hooks.all(hook, args), suback);
}

export function handleUnsubscribe(session: SubscribeContext, packet: mqttPacket.IUnsubscribePacket): void | Promise<void> {
  if (packet.unsubscriptions.length === 0)
    throw new ProtocolError(ReasonCode.ProtocolError, 'UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]');
  const { hooks } = session.env;
  const hook = versioned(session, 'on_unsubscribe');
  if (!hooks.has(hook)) return unsubscribe(session, packet, packet.unsubscriptions);
  const args: unknown[] = [session.username, session.subscriberId, [...packet.unsubscriptions]];
  if (session.protocolVersion === 5) args.push(packet.properties ?? {});
  const outcome = hooks.tillOk<string[] | UnsubscribeModifiersM5>(hook, args);
  // `{ ok: filters }` (or from `_m5` `{ ok: { topics, properties } }`) rewrites the filters; any other answer
  // (an error, no plugin deciding) removes them unchanged, as in VerneMQ.
  const decide = (o: ChainOutcome<string[] | UnsubscribeModifiersM5>): void => {
    const mods = o.kind === 'ok' ? o.modifiers : undefined;
    const m5 = session.protocolVersion === 5 && typeof mods === 'object' && mods !== null && !Array.isArray(mods) ? mods : undefined;
    const topics = m5 === undefined ? mods : m5.topics;
    const rewritten = Array.isArray(topics) && topics.every((f) => typeof f === 'string') ? topics : undefined;
    unsubscribe(session, packet, rewritten ?? packet.unsubscriptions, ackPropertiesOf(m5?.properties));
  };
  return session.whenAnswered(outcome, decide);
}

/** Removes `filters`; UNSUBACK has one code per filter of the packet (all Success when a plugin changed their number). */
function unsubscribe(
  session: SubscribeContext,
  packet: mqttPacket.IUnsubscribePacket,
  filters: readonly string[],
  properties?: AckProperties,
): void {
  const codes: number[] = [];
  for (const filter of filters) {
    const existed = session.unsubscribe(filter);
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  const granted = codes.length === packet.unsubscriptions.length ? codes : packet.unsubscriptions.map(() => ReasonCode.Success);
  const unsuback: mqttPacket.IUnsubackPacket = { cmd: 'unsuback', messageId: packet.messageId!, granted };
  if (properties === undefined) session.sendPacket(unsuback);
  else session.sendWithReason(unsuback, properties.reasonString, properties.userProperties);
}
