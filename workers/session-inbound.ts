/**
 * Handlers for the packets a connected client sends to its session
 * (everything after CONNECT): PUBLISH and its acknowledgements, SUBSCRIBE,
 * UNSUBSCRIBE, PINGREQ, DISCONNECT. Checks run in the order state, flags,
 * fields; every violation is a ProtocolError. Runs wherever the actor host runs.
 */
import { isUtf8 } from 'node:buffer';
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, MessageProperties } from '../src/app-message.js';
import { ProtocolError } from '../src/codec/protocol-error.js';
import { decodePublish, encodeAck, type DecodedPublish } from '../src/codec/publish.js';
import { ReasonCode } from '../src/codec/reason-codes.js';
import { isValidTopicFilter, isValidTopicName, topicLevelCount } from '../src/router/topic.js';
import { parsePacket, PINGRESP } from './packet-io.js';
import type { SessionActor } from './session-actor.js';

const PUBLISH = 3, PUBACK = 4, PUBREC = 5, PUBREL = 6, PUBCOMP = 7;

export function handleSessionPacket(session: SessionActor, bytes: Buffer): void {
  const type = (bytes[0] as number) >> 4;
  switch (type) {
    case PUBLISH: return handlePublish(session, bytes);
    case PUBACK: case PUBREC: case PUBREL: case PUBCOMP: return handleAck(session, type, bytes);
    default: break;
  }
  const packet = parsePacket(bytes, session.protocolVersion);
  switch (packet.cmd) {
    case 'subscribe': return handleSubscribe(session, packet);
    case 'unsubscribe': return handleUnsubscribe(session, packet);
    case 'pingreq': return session.send(PINGRESP);
    case 'disconnect': return handleDisconnect(session, packet);
    case 'connect':
      throw new ProtocolError(ReasonCode.ProtocolError, 'second CONNECT on a connection [MQTT-3.1.0-2]');
    case 'auth':
      throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH without an authentication method [MQTT-4.12.0-1]');
    default:
      throw new ProtocolError(ReasonCode.ProtocolError, `unexpected ${packet.cmd} from a client`);
  }
}

function handlePublish(session: SessionActor, bytes: Buffer): void {
  const v5 = session.protocolVersion === 5;
  const p = decodePublish(bytes, session.protocolVersion);
  const { config } = session.env;
  if (p.properties?.topicAlias !== undefined) {
    throw new ProtocolError(ReasonCode.TopicAliasInvalid, 'Topic Alias above the Topic Alias Maximum of 0 [MQTT-3.3.2-9]');
  }
  if (p.topic === '') throw new ProtocolError(ReasonCode.ProtocolError, 'empty topic name [MQTT-4.7.3-1]');
  if (!isValidTopicName(p.topic) || Buffer.byteLength(p.topic) > config.maxTopicLength || topicLevelCount(p.topic) > config.maxTopicLevels) {
    throw new ProtocolError(ReasonCode.TopicNameInvalid, 'invalid topic name [MQTT-3.3.2-2]');
  }
  if (v5 && p.properties?.payloadFormatIndicator && !isUtf8(p.payload)) {
    return refusePublish(session, p, ReasonCode.PayloadFormatInvalid);
  }
  if (p.qos === 2 && p.messageId !== undefined && session.inboundQos2.has(p.messageId)) {
    session.send(encodeAck('pubrec', p.messageId, ReasonCode.Success, session.protocolVersion));
    return;
  }
  if (!session.bucket.take(Date.now())) {
    session.drops.rateLimited++;
    if (p.qos === 0) return;
    if (!v5) throw new ProtocolError(ReasonCode.QuotaExceeded, 'incoming publish rate exceeded');
    return refusePublish(session, p, ReasonCode.QuotaExceeded);
  }
  if (p.qos === 2 && session.inboundQos2.size >= config.receiveMaximum) {
    throw new ProtocolError(ReasonCode.ReceiveMaximumExceeded, 'more unacknowledged QoS 2 publishes than Receive Maximum [MQTT-3.3.4-9]');
  }
  session.publish(toAppMessage(p));
  if (p.qos === 1) session.send(encodeAck('puback', p.messageId as number, ReasonCode.Success, session.protocolVersion));
  else if (p.qos === 2) {
    session.inboundQos2.add(p.messageId as number);
    session.send(encodeAck('pubrec', p.messageId as number, ReasonCode.Success, session.protocolVersion));
  }
}

/** 5.0: a QoS 1/2 publish refused with a reason code in its acknowledgement; QoS 0 is dropped. */
function refusePublish(session: SessionActor, p: DecodedPublish, reasonCode: number): void {
  if (p.qos === 0) return;
  session.send(encodeAck(p.qos === 1 ? 'puback' : 'pubrec', p.messageId as number, reasonCode, session.protocolVersion));
}

function toAppMessage(p: DecodedPublish): AppMessage {
  const message: AppMessage = { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain };
  const props = p.properties;
  if (!props) return message;
  const { topicAlias: _alias, subscriptionIdentifier: _ids, messageExpiryInterval, ...rest } = props;
  if (messageExpiryInterval !== undefined) message.expiresAt = Date.now() + messageExpiryInterval * 1000;
  if (Object.keys(rest).length > 0) message.properties = rest as MessageProperties;
  return message;
}

function handleAck(session: SessionActor, type: number, bytes: Buffer): void {
  const flags = (bytes[0] as number) & 0x0f;
  if (flags !== (type === PUBREL ? 2 : 0)) {
    throw new ProtocolError(ReasonCode.MalformedPacket, 'reserved flags of an acknowledgement [MQTT-3.6.1-1]');
  }
  const v = session.protocolVersion;
  const offset = bodyOffset(bytes);
  const remaining = bytes.length - offset;
  if (remaining < 2 || (v !== 5 && remaining !== 2)) {
    throw new ProtocolError(ReasonCode.MalformedPacket, 'acknowledgement of the wrong length');
  }
  const messageId = bytes.readUInt16BE(offset);
  const reasonCode = remaining > 2 ? (bytes[offset + 2] as number) : ReasonCode.Success;
  switch (type) {
    case PUBACK:
      if (session.flow.complete(messageId, 'publish')) session.pump();
      return;
    case PUBREC:
      if (reasonCode >= 0x80) {
        if (session.flow.complete(messageId, 'publish')) session.pump();
      } else if (session.flow.released(messageId)) {
        session.send(encodeAck('pubrel', messageId, ReasonCode.Success, v));
      } else {
        session.send(encodeAck('pubrel', messageId, ReasonCode.PacketIdentifierNotFound, v));
      }
      return;
    case PUBREL: {
      const known = session.inboundQos2.delete(messageId);
      session.send(encodeAck('pubcomp', messageId, known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound, v));
      return;
    }
    default:
      if (session.flow.complete(messageId, 'pubrel')) session.pump();
  }
}

/** Offset of the variable header: after the fixed header's type byte and its remaining-length varint. */
function bodyOffset(bytes: Buffer): number {
  let i = 1;
  while (((bytes[i] as number) & 0x80) !== 0) i++;
  return i + 1;
}

function handleSubscribe(session: SessionActor, packet: mqttPacket.ISubscribePacket): void {
  const v5 = session.protocolVersion === 5;
  const { config } = session.env;
  const subscriptionId = packet.properties?.subscriptionIdentifier ?? 0;
  const granted: number[] = [];
  for (const s of packet.subscriptions) {
    const filter = s.topic;
    if (!isValidTopicFilter(filter) || Buffer.byteLength(filter) > config.maxTopicLength || topicLevelCount(filter) > config.maxTopicLevels) {
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : 0x80);
      continue;
    }
    if (filter.startsWith('$share/')) {
      granted.push(v5 ? ReasonCode.SharedSubscriptionsNotSupported : 0x80);
      continue;
    }
    const qos = s.qos;
    const existed = session.subscriptions.has(filter);
    const retainHandling = v5 ? s.rh ?? 0 : 0;
    const options = { qos, noLocal: v5 && s.nl === true, retainAsPublished: v5 && s.rap === true, retainHandling, subscriptionId };
    session.subscriptions.set(filter, options);
    session.env.link.subscribe({
      pool: session.pool, sid: session.sid, filter, qos, noLocal: options.noLocal, retainAsPublished: options.retainAsPublished,
      subscriptionId, sendRetained: retainHandling === 0 || (retainHandling === 1 && !existed),
    });
    granted.push(qos);
  }
  session.sendPacket({ cmd: 'suback', messageId: packet.messageId as number, granted });
}

function handleUnsubscribe(session: SessionActor, packet: mqttPacket.IUnsubscribePacket): void {
  const codes: number[] = [];
  for (const filter of packet.unsubscriptions) {
    const existed = session.subscriptions.delete(filter);
    if (existed) session.env.link.unsubscribe(session.pool, session.sid, filter);
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  session.sendPacket({ cmd: 'unsuback', messageId: packet.messageId as number, granted: codes });
}

function handleDisconnect(session: SessionActor, packet: mqttPacket.IDisconnectPacket): void {
  const requested = packet.properties?.sessionExpiryInterval;
  if (requested !== undefined) {
    if (session.sessionExpiry === 0 && requested > 0) {
      throw new ProtocolError(ReasonCode.ProtocolError, 'Session Expiry Interval changed from 0 on DISCONNECT [MQTT-3.14.2-2]');
    }
    session.sessionExpiry = Math.min(requested, session.env.config.maxSessionExpiryInterval);
  }
  session.clientDisconnected(packet.reasonCode === ReasonCode.DisconnectWithWill);
}
