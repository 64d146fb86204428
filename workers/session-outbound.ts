/**
 * Encoding of one outgoing PUBLISH for a session: its protocol version, the
 * subscription identifiers and remaining Message Expiry of 5.0, and the
 * client's Maximum Packet Size (an oversized message is skipped and counted,
 * never a disconnect). Runs wherever the actor host runs.
 */
import { encodePublish, encodedPublishLength, type EncodablePublish, type PublishProperties } from '../src/codec/publish.js';
import type { Outgoing } from './outbound-flow.js';
import type { SessionActor } from './session-actor.js';

export function sendOutgoing(session: SessionActor, o: Outgoing, dup: boolean): void {
  const { message } = o;
  const packet: EncodablePublish = {
    topic: message.topic,
    payload: message.payload,
    qos: o.qos,
    retain: o.retain,
    dup,
  };
  if (o.qos > 0) packet.messageId = o.packetId;
  const v5 = session.protocolVersion === 5;
  if (v5) {
    const properties = outgoingProperties(o);
    if (properties) packet.properties = properties;
  }
  const limit = session.negotiated.maxOutgoingPacketSize;
  if (limit > 0 && encodedPublishLength(packet, session.protocolVersion) > limit) {
    session.drops.packetTooLarge++;
    if (o.qos > 0) {
      session.flow.complete(o.packetId, 'publish');
      session.pump();
    }
    return;
  }
  session.send(encodePublish(packet, session.protocolVersion));
}

function outgoingProperties(o: Outgoing): PublishProperties | undefined {
  const { properties, expiresAt } = o.message;
  if (!properties && expiresAt === undefined && o.subscriptionIds.length === 0) return undefined;
  const out: PublishProperties = { ...(properties as PublishProperties | undefined) };
  if (expiresAt !== undefined) {
    out.messageExpiryInterval = Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000));
  }
  if (o.subscriptionIds.length > 0) {
    out.subscriptionIdentifier = o.subscriptionIds.length === 1 ? o.subscriptionIds[0] as number : o.subscriptionIds;
  }
  return out;
}
