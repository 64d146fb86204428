/**
 * Encoding of one outgoing PUBLISH for a session: its protocol version, the
 * subscription identifiers, remaining Message Expiry and Topic Alias of 5.0,
 * and the client's Maximum Packet Size (an oversized message is skipped and
 * counted, never a disconnect). Runs wherever the actor host runs.
 */
import { encodePublish, encodedPublishLength, type EncodablePublish, type PublishProperties } from '../src/codec/publish.js';
import type { Outgoing } from './outbound-flow.js';
import type { SessionActor } from './session-actor.js';
import type { AliasChoice } from './topic-alias.js';

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
  const aliases = session.outboundAliases;
  let alias: AliasChoice | undefined;
  if (v5) {
    let properties = outgoingProperties(o);
    if (aliases) {
      // [MQTT-3.1.2-26] [MQTT-3.3.2-11]: never above the client's Topic Alias Maximum.
      alias = aliases.choose(message.topic);
      (properties ??= {}).topicAlias = alias.alias;
      if (alias.known) packet.topic = '';
    }
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
  if (alias) aliases?.commit(message.topic, alias);
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
