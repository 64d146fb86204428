/**
 * SUBSCRIBE and UNSUBSCRIBE of a connected client: filter checks, the
 * session's own copy of its subscriptions, the subscribe / unsubscribe frames
 * for the router (shared `$share/{group}/{filter}` ones included), and the
 * SUBACK / UNSUBACK. Runs wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../src/codec/protocol-error.js';
import { ReasonCode } from '../src/codec/reason-codes.js';
import { isValidTopicFilter, parseSharedFilter, topicLevelCount } from '../src/router/topic.js';
import type { SessionActor } from './session-actor.js';

/** SUBACK return code of a refused subscription on 3.1.1. */
const V3_FAILURE = 0x80;

export function handleSubscribe(session: SessionActor, packet: mqttPacket.ISubscribePacket): void {
  const v5 = session.protocolVersion === 5;
  const { config } = session.env;
  if (packet.subscriptions.length === 0) throw new ProtocolError(ReasonCode.ProtocolError, 'SUBSCRIBE without a topic filter [MQTT-3.8.3-2]');
  if (v5 && packet.subscriptions.some((s) => s.nl === true && parseSharedFilter(s.topic) !== undefined)) {
    throw new ProtocolError(ReasonCode.ProtocolError, 'No Local on a shared subscription [MQTT-3.8.3-4]');
  }
  const subscriptionId = packet.properties?.subscriptionIdentifier ?? 0;
  const granted: number[] = [];
  const refused: string[] = [];
  for (const s of packet.subscriptions) {
    const filter = s.topic;
    const shared = parseSharedFilter(filter);
    if (
      shared === null || !isValidTopicFilter(filter) ||
      Buffer.byteLength(filter) > config.maxTopicLength || topicLevelCount(filter) > config.maxTopicLevels
    ) {
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : V3_FAILURE);
      refused.push(filter);
      continue;
    }
    const qos = s.qos;
    const existed = session.subscriptions.has(filter);
    const retainHandling = v5 ? s.rh ?? 0 : 0;
    const options = { qos, noLocal: v5 && s.nl === true, retainAsPublished: v5 && s.rap === true, retainHandling, subscriptionId };
    session.subscriptions.set(filter, options);
    session.env.link.subscribe({
      pool: session.pool, sid: session.sid, filter, qos, noLocal: options.noLocal, retainAsPublished: options.retainAsPublished,
      subscriptionId, sendRetained: shared === undefined && (retainHandling === 0 || (retainHandling === 1 && !existed)),
    });
    granted.push(qos);
  }
  const suback: mqttPacket.ISubackPacket = { cmd: 'suback', messageId: packet.messageId as number, granted };
  if (refused.length === 0) session.sendPacket(suback);
  else session.sendWithReason(suback, `invalid topic filter: ${refused.join(', ')}`);
}

export function handleUnsubscribe(session: SessionActor, packet: mqttPacket.IUnsubscribePacket): void {
  if (packet.unsubscriptions.length === 0) throw new ProtocolError(ReasonCode.ProtocolError, 'UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]');
  const codes: number[] = [];
  for (const filter of packet.unsubscriptions) {
    const existed = session.subscriptions.delete(filter);
    if (existed) session.env.link.unsubscribe(session.pool, session.sid, filter);
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  session.sendPacket({ cmd: 'unsuback', messageId: packet.messageId as number, granted: codes });
}
