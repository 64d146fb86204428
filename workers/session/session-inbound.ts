/**
 * Handlers for the packets a connected client sends to its session
 * (everything after CONNECT): PUBLISH (with its Topic Alias; a QoS 0 one
 * to `$client/<own client id>/...` goes to the runtime's control_message and
 * is not routed; one to `$SYS/...` is refused; others pass
 * auth_on_publish(_m5), then the runtime's is_allowed('publish'), before
 * routing and on_publish(_m5) after, and are acknowledged once kept) and its
 * acknowledgements, PINGREQ, DISCONNECT; SUBSCRIBE and UNSUBSCRIBE go to
 * session-subscribe.ts, AUTH to auth-flow.ts. Checks run in the order state,
 * flags, fields; every violation is a ProtocolError. A handler returns a
 * promise only when a plugin answered with one: the session then holds its
 * later packets until it settles. Runs wherever the actor host runs.
 */
import { isUtf8 } from 'node:buffer';
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, MessageProperties } from '../../src/shared/message/app-message.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { decodePublish, encodeAck, type DecodedPublish } from '../../src/shared/codec/publish.js';
import { checkAckProperties } from '../../src/shared/codec/validate.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { ChainOutcome } from '../../src/shared/hooks/chain.js';
import type { PublishModifiers } from '../../src/api/hooks.js';
import { isDollarTopic, isSysTopic, isValidTopicName, topicLevelCount } from '../../src/shared/topic/topic.js';
import { handleAuth } from '../connect/auth-flow.js';
import { applyPublishModifiers, mountpointOf, refusalOf, throttleOf } from '../hooks/hook-outcomes.js';
import { parsePacket, PINGRESP } from '../../src/shared/codec/packet-io.js';
import type { InboundContext } from './session-context.js';
import { messageArgs, versioned } from './session-hooks.js';
import { controlTopicRest, handleControlMessage } from './session-runtime.js';
import { handleSubscribe, handleUnsubscribe } from './session-subscribe.js';
import { expiryDeadline } from '../../src/shared/message/expiry.js';
import { fixedHeaderLength } from '../../src/shared/codec/framer.js';
import { isPromise, type MaybePromise } from '../../src/shared/async.js';

const PUBLISH = 3,
  PUBACK = 4,
  PUBREC = 5,
  PUBREL = 6,
  PUBCOMP = 7;

export function handleSessionPacket(session: InboundContext, bytes: Buffer): void | Promise<void> {
  const type = bytes[0]! >> 4;
  switch (type) {
    case PUBLISH:
      return handlePublish(session, bytes);
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
      return handleAck(session, type, bytes);
    default:
      break;
  }
  const packet = parsePacket(bytes, session.protocolVersion);
  switch (packet.cmd) {
    case 'subscribe':
      return handleSubscribe(session, packet);
    case 'unsubscribe':
      return handleUnsubscribe(session, packet);
    case 'pingreq':
      return session.send(PINGRESP);
    case 'disconnect':
      return handleDisconnect(session, packet);
    case 'connect':
      throw new ProtocolError(ReasonCode.ProtocolError, 'second CONNECT on a connection [MQTT-3.1.0-2]');
    case 'auth':
      return handleAuth(session, packet);
    default:
      throw new ProtocolError(ReasonCode.ProtocolError, `unexpected ${packet.cmd} from a client`);
  }
}

function handlePublish(session: InboundContext, bytes: Buffer): void | Promise<void> {
  const v5 = session.protocolVersion === 5;
  const p = decodePublish(bytes, session.protocolVersion);
  const { config } = session.env;
  const alias = p.properties?.topicAlias;
  if (
    p.topic !== '' &&
    (!isValidTopicName(p.topic) || Buffer.byteLength(p.topic) > config.maxTopicLength || topicLevelCount(p.topic) > config.maxTopicLevels)
  ) {
    throw new ProtocolError(ReasonCode.TopicNameInvalid, 'invalid topic name [MQTT-3.3.2-2]');
  }
  if (alias !== undefined) {
    const aliases = session.inboundAliases;
    if (!aliases) throw new ProtocolError(ReasonCode.TopicAliasInvalid, 'Topic Alias while the Topic Alias Maximum is 0 [MQTT-3.2.2-18]');
    p.topic = aliases.resolve(alias, p.topic);
  }
  if (p.topic === '') throw new ProtocolError(ReasonCode.ProtocolError, 'empty topic name without a Topic Alias [MQTT-4.7.3-1]');
  if (isSysTopic(p.topic)) return refuseSys(session, p);
  if (v5 && p.properties?.payloadFormatIndicator && !isUtf8(p.payload)) {
    return refusePublish(
      session,
      p,
      ReasonCode.PayloadFormatInvalid,
      'payload is not UTF-8 but its Payload Format Indicator says so (§3.3.2.3.2)',
    );
  }
  if (p.qos === 2 && p.messageId !== undefined && session.awaitsRelease(p.messageId)) {
    const kept = session.keptRelease(p.messageId);
    // Not known to be kept (held before a restart): routed again below; sessions that got a copy skip it.
    if (kept !== undefined) return acknowledgeKept(session, p, kept);
  }
  // 3.1.1 has no Quota Exceeded: a publisher over its rate is slowed down (its reads pause), not refused.
  if (!v5) session.borrowPublishToken(Date.now());
  else if (!session.takePublishToken(Date.now())) {
    if (p.qos === 0) return;
    return refusePublish(session, p, ReasonCode.QuotaExceeded, 'incoming publish rate exceeded');
  }
  if (p.qos === 2 && session.awaitingRelease >= session.limits.receiveMaximum) {
    throw new ProtocolError(ReasonCode.ReceiveMaximumExceeded, 'more unacknowledged QoS 2 publishes than Receive Maximum [MQTT-3.3.4-7]');
  }
  const message = toAppMessage(p);
  if (p.qos === 0 && isDollarTopic(p.topic)) {
    const rest = controlTopicRest(session, p.topic);
    if (rest !== undefined) return handleControlMessage(session, rest, message);
  }
  const { hooks } = session.env;
  const hook = versioned(session, 'auth_on_publish');
  if (!hooks.has(hook)) return runtimeAllowed(session, p, message);
  const outcome = hooks.tillOk<PublishModifiers | Buffer>(hook, messageArgs(session, message, p.qos, p.retain));
  return session.whenAnswered(outcome, (o) => authorized(session, p, message, o));
}

/**
 * auth_on_publish answered: route the message with its modifiers, or refuse
 * it. A refused 5.0 QoS 1/2 publish gets the plugin's reason code (default
 * 0x87); 3.1.1 cannot refuse in an acknowledgement, so the message is dropped
 * and acknowledged as VerneMQ does (the client would resend it otherwise).
 */
function authorized(
  session: InboundContext,
  p: DecodedPublish,
  message: AppMessage,
  outcome: ChainOutcome<PublishModifiers | Buffer>,
): void | Promise<void> {
  const v5 = session.protocolVersion === 5;
  if (outcome.kind === 'ok') {
    const throttleMs = throttleOf(outcome.modifiers);
    if (throttleMs > 0) session.throttle(throttleMs);
    return runtimeAllowed(session, p, applyPublishModifiers(message, outcome.modifiers, v5), mountpointOf(outcome.modifiers));
  }
  if (!v5) return acknowledge(session, p);
  const refusal = refusalOf(outcome.kind === 'error' ? outcome.reason : undefined, ReasonCode.NotAuthorized);
  return refusePublish(session, p, refusal.reasonCode, refusal.reasonString ?? 'not authorized');
}

/** The runtime's is_allowed('publish', topic, message) after the plugins; refused like a plugin refusal with 0x87. */
function runtimeAllowed(session: InboundContext, p: DecodedPublish, message: AppMessage, pool?: string): void | Promise<void> {
  const { runtime } = session.env;
  if (!runtime.checksAccess) return route(session, p, message, pool);
  const decide = (ok: boolean): void | Promise<void> => {
    if (ok) return route(session, p, message, pool);
    if (session.protocolVersion !== 5) return acknowledge(session, p);
    return refusePublish(session, p, ReasonCode.NotAuthorized, 'not authorized');
  };
  const allowed = runtime.allowed('publish', message.topic, message, session.userContext);
  return session.whenAnswered(allowed, decide);
}

/**
 * Routes the message, calls on_publish(_m5), then acknowledges once the
 * message is kept (with a store: once every commit holding it is done; the
 * session's later packets do not wait for that).
 */
function route(session: InboundContext, p: DecodedPublish, message: AppMessage, pool?: string): void | Promise<void> {
  let kept: MaybePromise<boolean> | undefined;
  if (p.qos === 0) session.publish(message, pool);
  else kept = session.publishKept(message, p.messageId!, pool);
  const { hooks } = session.env;
  const hook = versioned(session, 'on_publish');
  if (!hooks.has(hook)) return acknowledgeKept(session, p, kept);
  const args = messageArgs(session, message, message.qos, message.retain);
  return session.whenAnswered(hooks.all(hook, args), () => acknowledgeKept(session, p, kept));
}

/** PUBACK or PUBREC once `kept` says the message is kept; a refusal when it could not be; nothing for QoS 0 (undefined). */
function acknowledgeKept(session: InboundContext, p: DecodedPublish, kept: MaybePromise<boolean> | undefined): void {
  if (kept === undefined) return;
  if (!isPromise(kept)) return kept ? acknowledge(session, p) : notKept(session, p);
  session.whenKept(kept, (ok) => (ok ? acknowledge(session, p) : notKept(session, p)));
}

/**
 * A commit that should have kept the message failed (the store refused the
 * write, a full disk, or a host failed before its commit): it is not
 * acknowledged as kept. 5.0 refuses it with 0x97 (Quota exceeded); 3.1.1
 * has no refusal, so the connection closes and the client sends the message
 * again on its next connection.
 */
function notKept(session: InboundContext, p: DecodedPublish): void {
  if (p.qos === 2) session.releaseReceived(p.messageId!);
  session.env.log.warn({ clientId: session.clientId, packetId: p.messageId }, 'a publish could not be stored; refusing it');
  if (session.protocolVersion === 5) return refusePublish(session, p, ReasonCode.QuotaExceeded, 'the broker could not store the message');
  session.closeTransport(ReasonCode.UnspecifiedError, 'the broker could not store a message');
}

function acknowledge(session: InboundContext, p: DecodedPublish): void {
  if (p.qos === 1) session.send(encodeAck('puback', p.messageId!, ReasonCode.Success, session.protocolVersion));
  else if (p.qos === 2) {
    session.holdForRelease(p.messageId!);
    // Once the id is kept as acknowledged: a restart answers a resend with PUBREC, never routes it again.
    session.sendAfterCommit(encodeAck('pubrec', p.messageId!, ReasonCode.Success, session.protocolVersion));
  }
}

/**
 * A client's PUBLISH to `$SYS/...`: the tree is the broker's (4.7.2), so it
 * is never routed. 5.0 refuses it with 0x87; 3.1.1, which cannot refuse in
 * an acknowledgement, has it acknowledged and dropped, as a refused publish.
 */
function refuseSys(session: InboundContext, p: DecodedPublish): void {
  session.env.log.debug({ clientId: session.clientId, topic: p.topic }, 'a client published to $SYS; not routed');
  if (session.protocolVersion === 5) return refusePublish(session, p, ReasonCode.NotAuthorized, '$SYS is reserved for the broker');
  acknowledge(session, p);
}

/** 5.0: a QoS 1/2 publish refused with a reason code (and Reason String) in its acknowledgement; QoS 0 is dropped. */
function refusePublish(session: InboundContext, p: DecodedPublish, reasonCode: number, reasonString: string): void {
  if (p.qos === 0) return;
  session.sendWithReason({ cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: p.messageId!, reasonCode }, reasonString);
}

export function toAppMessage(p: DecodedPublish): AppMessage {
  const message: AppMessage = { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain };
  const props = p.properties;
  if (!props) return message;
  const { topicAlias: _alias, subscriptionIdentifier: _ids, messageExpiryInterval, ...rest } = props;
  if (messageExpiryInterval !== undefined) message.expiresAt = expiryDeadline(messageExpiryInterval);
  if (Object.keys(rest).length > 0) message.properties = rest as MessageProperties;
  return message;
}

function handleAck(session: InboundContext, type: number, bytes: Buffer): void {
  const flags = bytes[0]! & 0x0f;
  if (flags !== (type === PUBREL ? 2 : 0)) {
    throw new ProtocolError(ReasonCode.MalformedPacket, 'reserved flags of an acknowledgement [MQTT-3.6.1-1]');
  }
  const v = session.protocolVersion;
  const offset = fixedHeaderLength(bytes);
  const remaining = bytes.length - offset;
  if (remaining < 2 || (v !== 5 && remaining !== 2)) {
    throw new ProtocolError(ReasonCode.MalformedPacket, 'acknowledgement of the wrong length');
  }
  if (v === 5 && remaining > 3) checkAckProperties(bytes);
  const messageId = bytes.readUInt16BE(offset);
  const reasonCode = remaining > 2 ? bytes[offset + 2]! : ReasonCode.Success;
  switch (type) {
    case PUBACK:
      session.acknowledged(messageId, 'publish');
      return;
    case PUBREC:
      if (reasonCode >= 0x80) {
        session.acknowledged(messageId, 'publish');
      } else if (session.pubrecReceived(messageId)) {
        // Once the 'pubrel' state is kept: a restart resends PUBREL, never the PUBLISH the client already passed on.
        session.sendAfterCommit(encodeAck('pubrel', messageId, ReasonCode.Success, v));
      } else {
        session.sendWithReason({ cmd: 'pubrel', messageId, reasonCode: ReasonCode.PacketIdentifierNotFound }, 'unknown packet identifier');
      }
      return;
    case PUBREL: {
      // Once the id's release is kept: a restart must not take a new message under that id for a resend.
      if (session.releaseReceived(messageId)) session.sendAfterCommit(encodeAck('pubcomp', messageId, ReasonCode.Success, v));
      else
        session.sendWithReason({ cmd: 'pubcomp', messageId, reasonCode: ReasonCode.PacketIdentifierNotFound }, 'unknown packet identifier');
      return;
    }
    default:
      session.acknowledged(messageId, 'pubrel');
  }
}

function handleDisconnect(session: InboundContext, packet: mqttPacket.IDisconnectPacket): void {
  const requested = packet.properties?.sessionExpiryInterval;
  const keepWill = packet.reasonCode === ReasonCode.DisconnectWithWill;
  if (requested === undefined) return session.clientDisconnected(keepWill);
  if (session.sessionExpiry === 0 && requested > 0) {
    throw new ProtocolError(ReasonCode.ProtocolError, 'Session Expiry Interval changed from 0 on DISCONNECT [MQTT-3.14.2-2]');
  }
  session.clientDisconnected(keepWill, Math.min(requested, session.env.config.maxSessionExpiryInterval));
}
