/**
 * One outgoing PUBLISH of a session: on_deliver(_m5) first when a plugin
 * implements it (the session passes such deliveries to its DeliveryGate; the
 * modifiers change topic, payload and 5.0 properties; while a plugin answers
 * asynchronously, later deliveries of the session wait behind it, in order),
 * then the encoding for its protocol version, the subscription identifiers,
 * remaining Message Expiry and Topic Alias of 5.0, and the client's Maximum
 * Packet Size (an oversized message is skipped, counted and reported to
 * on_message_drop, never a disconnect). Runs wherever the actor host runs.
 */
import { encodePublish, encodedPublishLength, type EncodablePublish, type PublishProperties } from '../../src/shared/codec/publish.js';
import { type ChainOutcome } from '../../src/shared/hooks/chain.js';
import type { DeliverModifiers } from '../../src/api/hooks.js';
import { applyDeliverModifiers } from '../hooks/hook-outcomes.js';
import type { Outgoing } from './outbound-flow.js';
import type { OutboundContext } from './session-context.js';
import { messageArgs, versioned } from './session-hooks.js';
import type { AliasChoice } from './topic-alias.js';
import { isPromise } from '../../src/shared/async.js';
import { remainingExpirySeconds } from '../../src/shared/message/expiry.js';

/** The deliveries of one session waiting for on_deliver, sent in the order they came. */
export class DeliveryGate {
  private busy = false;
  private readonly queue: Outgoing[] = [];
  /** Deliveries not yet sent: a reconnect must not resend them with DUP. Made on the first. */
  private waiting: Set<Outgoing> | undefined;

  constructor(private readonly session: OutboundContext) {}

  holds(o: Outgoing): boolean {
    return this.waiting?.has(o) ?? false;
  }

  push(o: Outgoing): void {
    (this.waiting ??= new Set()).add(o);
    if (this.busy) {
      this.queue.push(o);
      return;
    }
    this.busy = true;
    this.drain(o);
  }

  private drain(first: Outgoing | undefined): void {
    for (let o = first; o; o = this.queue.shift()) {
      const answer = this.hook(o);
      if (answer) {
        answer.then(() => this.drain(this.queue.shift()));
        return;
      }
    }
    this.busy = false;
  }

  private hook(o: Outgoing): Promise<void> | undefined {
    const s = this.session;
    const outcome = s.env.hooks.tillOk<DeliverModifiers | Buffer>(versioned(s, 'on_deliver'), messageArgs(s, o.message, o.qos, o.retain));
    if (!isPromise(outcome)) {
      this.send(o, outcome);
      return undefined;
    }
    return outcome.then((answer) => this.send(o, answer));
  }

  /** An error or an exhausted chain delivers the message unchanged, as VerneMQ does. */
  private send(o: Outgoing, outcome: ChainOutcome<DeliverModifiers | Buffer>): void {
    const s = this.session;
    this.waiting?.delete(o);
    if (outcome.kind === 'ok') o.message = applyDeliverModifiers(o.message, outcome.modifiers, s.protocolVersion === 5);
    // Taken back meanwhile (redispatched to another member of a shared group, or the session ended).
    if (o.qos > 0 && !s.holdsInflight(o)) return;
    encodeOutgoing(s, o, false);
  }
}

/** Encodes `o` for the client's connection and sends it; one over the client's Maximum Packet Size is skipped. */
export function encodeOutgoing(session: OutboundContext, o: Outgoing, dup: boolean): void {
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
  const limit = session.maxOutgoingPacketSize;
  if (limit > 0 && encodedPublishLength(packet, session.protocolVersion) > limit) {
    session.oversized(o);
    return;
  }
  if (o.qos === 0 && !dup && packet.properties === undefined)
    session.sendShared(sharedPublishKey(session.protocolVersion, o.retain), packet);
  else session.send(encodePublish(packet, session.protocolVersion));
  if (alias) aliases?.commit(message.topic, alias);
}

/** The encodings a plain QoS 0 PUBLISH of one message can have: with or without the 5.0 property length, RETAIN set or not. */
function sharedPublishKey(protocolVersion: number, retain: boolean): number {
  return (protocolVersion === 5 ? 2 : 0) + (retain ? 1 : 0);
}

function outgoingProperties(o: Outgoing): PublishProperties | undefined {
  const { properties, expiresAt } = o.message;
  if (!properties && expiresAt === undefined && o.subscriptionIds.length === 0) return undefined;
  const out: PublishProperties = { ...(properties as PublishProperties | undefined) };
  if (expiresAt !== undefined) {
    out.messageExpiryInterval = remainingExpirySeconds(expiresAt);
  }
  if (o.subscriptionIds.length > 0) {
    out.subscriptionIdentifier = o.subscriptionIds.length === 1 ? o.subscriptionIds[0]! : o.subscriptionIds;
  }
  return out;
}
