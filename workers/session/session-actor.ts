/**
 * One MQTT session as an actor: its subscriptions, its outbound QoS 1/2 flow,
 * its inbound QoS 2 ids, its will, its expiry, and the transport it is
 * attached to (or none) with that connection's topic aliases and
 * authentication, and the runtime's user context. It outlives its
 * connections until it expires (the runtime may shorten that); messages it
 * holds for shared subscriptions go back to the router when it goes offline.
 * Plain object inside an ActorHost; runs wherever the host runs.
 */
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, MessageProperties, QoS } from '../../src/shared/message/app-message.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { BrokerConfig } from '../../src/api/config.js';
import type { SubscriberId } from '../../src/api/hooks.js';
import type { Logger } from '../../src/shared/log.js';
import type { DeliveryTarget, TransportInfo } from '../../src/shared/channel/frames.js';
import type { Authenticator, ConnectionAuth } from '../connect/auth-flow.js';
import type { HostHooks } from '../hooks/host-hooks.js';
import type { HostRuntime } from '../runtime/host-runtime.js';
import { routingPool } from '../runtime/pools.js';
import type { SessionOptions, UserContext } from '../../src/api/runtime.js';
import { OutboundFlow, queuedBytes, type Outgoing, type QueueCaps } from './outbound-flow.js';
import { generateDisconnect, generatePacket, generateWithReason } from '../../src/shared/codec/packet-io.js';
import type { RouterLink } from '../router-link.js';
import { notifyDrop, notifyExpired, notifyOfflineMessage, notifyTransportLost } from './session-hooks.js';
import { handleSessionPacket } from './session-inbound.js';
import { handleValidatedPacket } from './session-runtime.js';
import { defaultLimits, upgradedQos, type SessionLimits } from './session-limits.js';
import { DeliveryGate, sendOutgoing } from './session-outbound.js';
import { TokenBucket } from './token-bucket.js';
import { InboundAliases, OutboundAliases } from './topic-alias.js';
import { isPromise } from '../../src/shared/async.js';
import { SHARE_PREFIX } from '../../src/shared/topic/topic.js';

export interface SessionEnv {
  config: BrokerConfig;
  link: RouterLink;
  log: Logger;
  /** Decides enhanced authentication (AUTH); undefined = every Authentication Method is refused. */
  authenticator: Authenticator | undefined;
  /** The plugin chains of this host. */
  hooks: HostHooks;
  /** The session runtime of this host. */
  runtime: HostRuntime;
  /** The host forgets the session (expired, or replaced by a clean start). */
  ended(session: SessionActor): void;
  /** The host stops routing packets of `connId` to this session. */
  unbind(connId: number): void;
}

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionId: number;
}

export interface Will {
  message: AppMessage;
  delaySeconds: number;
}

/** Per-connection settings negotiated at CONNECT. */
export interface Negotiated {
  protocolVersion: number;
  keepalive: number;
  /** Largest packet the client accepts (its Maximum Packet Size, capped by ours). */
  maxOutgoingPacketSize: number;
  /** The client's Topic Alias Maximum: aliases we may use towards it. */
  topicAliasMaximum: number;
  /** False when the client asked for no Reason Strings outside PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]. */
  requestProblemInformation: boolean;
}

/** A packet (or the close) of a connection that arrived while a hook answered an earlier packet asynchronously. */
interface Held { connId: number; bytes: Buffer | undefined; closed: string | undefined }

export class SessionActor {
  connId = -1;
  transport: TransportInfo | undefined;
  negotiated: Negotiated = { protocolVersion: 4, keepalive: 0, maxOutgoingPacketSize: 0, topicAliasMaximum: 0, requestProblemInformation: true };
  sessionExpiry = 0;
  will: Will | undefined;
  /** The user name of the current (or last) connection, as plugins see it. */
  username: string | undefined;
  /** The runtime's user context (new_user_context, then what connect and control_message answer). */
  userContext: UserContext;
  /** The current (or last) connection, as the runtime sees it. */
  transportOptions: SessionOptions | undefined;
  /** What the plugins' register modifiers set for the current (or last) connection. */
  limits: SessionLimits;
  /** A connection whose CONNECT is being registered on this session (its hooks still answering), if any. */
  registering: number | undefined;
  readonly subscriberId: SubscriberId;
  /** Enhanced authentication of the current connection, when its CONNECT named a method. */
  auth: ConnectionAuth | undefined;
  /** Topic aliases of the current connection (5.0). */
  inboundAliases: InboundAliases | undefined;
  outboundAliases: OutboundAliases | undefined;
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  readonly flow: OutboundFlow;
  readonly inboundQos2 = new Set<number>();
  bucket: TokenBucket;
  /** Deliveries waiting for on_deliver, in order. */
  readonly deliveries = new DeliveryGate(this);
  /** Messages dropped for this session: over a queue limit, over the packet size, or over the publish rate. */
  readonly drops = { queueFull: 0, packetTooLarge: 0, rateLimited: 0, expired: 0 };
  /** A will waiting for its Will Delay Interval. */
  private pendingWill: Will | undefined;
  private willTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** Set while a hook of a packet of this session answers asynchronously: later packets wait here, in order. */
  private held: Held[] | undefined;

  constructor(
    readonly env: SessionEnv,
    readonly sid: number,
    readonly pool: string,
    readonly clientId: string,
  ) {
    this.flow = new OutboundFlow(env.config.maxInflightMessages);
    this.bucket = new TokenBucket(env.config.maxIncomingMessagesRate, env.config.maxIncomingMessagesBurst, Date.now());
    this.limits = defaultLimits(env.config);
    this.subscriberId = Object.freeze({ mountpoint: pool, clientId });
  }

  get connected(): boolean {
    return this.connId >= 0;
  }

  get protocolVersion(): number {
    return this.negotiated.protocolVersion;
  }

  /**
   * Binds a new transport after its CONNACK was sent, with fresh topic aliases
   * [MQTT-3.3.2-7]; resends what was unacknowledged [MQTT-4.4.0-1].
   */
  attach(connId: number, transport: TransportInfo, negotiated: Negotiated, receiveMaximum: number): void {
    this.clearTimers();
    this.connId = connId;
    this.transport = transport;
    this.negotiated = negotiated;
    this.flow.window = Math.min(this.limits.maxInflightMessages, receiveMaximum);
    // Inbound QoS 2 ids awaiting PUBREL are session state: kept across connections [MQTT-4.3.3-10].
    const v5 = negotiated.protocolVersion === 5;
    const { topicAliasMaximum } = this.limits;
    const { maxOutgoingTopicAliases } = this.env.config;
    this.inboundAliases = v5 && topicAliasMaximum > 0 ? new InboundAliases(topicAliasMaximum) : undefined;
    const outgoing = Math.min(negotiated.topicAliasMaximum, maxOutgoingTopicAliases);
    this.outboundAliases = v5 && outgoing > 0 ? new OutboundAliases(outgoing) : undefined;
    if (this.hasSharedSubscriptions()) this.env.link.presence(this.sid, true);
    for (const o of this.flow.inflight.values()) {
      if (this.deliveries.holds(o)) continue; // sent once on_deliver answers
      if (o.state === 'publish') sendOutgoing(this, o, true);
      else this.env.link.send(connId, generatePacket({ cmd: 'pubrel', messageId: o.packetId }, negotiated.protocolVersion));
    }
    this.pump();
  }

  handlePacket(connId: number, bytes: Buffer): void {
    if (this.held) {
      this.held.push({ connId, bytes: Buffer.from(bytes), closed: undefined }); // the batch's bytes are not ours to keep
      return;
    }
    this.process(connId, bytes);
  }

  private process(connId: number, bytes: Buffer): void {
    if (connId !== this.connId) return;
    let pending: Promise<void> | void;
    try {
      pending = this.env.runtime.checksMessages ? handleValidatedPacket(this, bytes) : handleSessionPacket(this, bytes);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!pending) return;
    this.held = [];
    pending
      .then(undefined, (err: unknown) => { if (connId === this.connId) this.fail(err); })
      .then(() => this.release());
  }

  /** Handles what waited for a hook, until one more hook answers asynchronously. */
  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (let i = 0; i < held.length; i++) {
      const h = held[i] as Held;
      if (h.bytes) this.process(h.connId, h.bytes);
      else this.transportClosed(h.connId, h.closed as string);
      if (this.held) {
        (this.held as Held[]).push(...held.slice(i + 1));
        return;
      }
    }
  }

  /** A packet's handling failed: a ProtocolError disconnects with its code, anything else with 0x83. */
  fail(err: unknown): void {
    if (err instanceof ProtocolError) {
      this.env.log.info({ clientId: this.clientId, reasonCode: err.reasonCode, err: err.message }, 'protocol error, closing');
      this.closeTransport(err.reasonCode, err.message);
    } else {
      this.env.log.error({ clientId: this.clientId, err }, 'session failed on a packet, closing');
      this.closeTransport(ReasonCode.ImplementationSpecificError);
    }
  }

  /**
   * Sends DISCONNECT (5.0 only) with `reasonCode`, `reasonString` (whatever
   * Request Problem Information said) and `serverReference`, closes the
   * transport, and treats it as an abnormal loss: the will follows.
   */
  closeTransport(reasonCode: number, reasonString?: string, serverReference?: string): void {
    const connId = this.connId;
    if (connId < 0) return;
    if (this.protocolVersion === 5) {
      const disconnect: mqttPacket.IDisconnectPacket = { cmd: 'disconnect', reasonCode };
      if (serverReference !== undefined) disconnect.properties = { serverReference };
      const bytes = generateDisconnect(disconnect, reasonString, this.negotiated.maxOutgoingPacketSize);
      if (bytes) this.env.link.send(connId, bytes);
    }
    this.env.link.end(connId);
    this.detach(`server disconnect 0x${reasonCode.toString(16)}`);
  }

  /** The transport is gone without a normal DISCONNECT (after the packets that wait for a hook). */
  transportClosed(connId: number, reason: string): void {
    if (this.held) {
      this.held.push({ connId, bytes: undefined, closed: reason });
      return;
    }
    if (connId !== this.connId) return;
    this.detach(reason);
  }

  /** Normal DISCONNECT from the client: the will is dropped unless 5.0 reason 0x04 asks for it. */
  clientDisconnected(keepWill: boolean): void {
    if (!keepWill) this.will = undefined;
    const connId = this.connId;
    this.env.link.end(connId);
    this.detach('client disconnect');
  }

  private detach(reason: string): void {
    const connId = this.connId;
    this.env.unbind(connId);
    this.connId = -1;
    this.auth = undefined;
    this.inboundAliases = this.outboundAliases = undefined;
    this.env.link.event('client-disconnected', this.clientId, { reason, pool: this.pool });
    if (this.hasSharedSubscriptions()) this.env.link.presence(this.sid, false);
    this.redispatchShared();
    const expiry = this.expiryAfterDisconnect();
    // A session that ends now takes its queue with it: nothing to trim or report.
    if (expiry > 0) this.queueFull(this.flow.trim(this.queueCaps()));
    this.scheduleWill();
    this.offline(expiry);
  }

  /** The session's expiry once its transport is gone, as the runtime may shorten it. */
  private expiryAfterDisconnect(): number {
    return this.env.runtime.expiryAfterDisconnect(this.env.config, this.sessionExpiry, this.userContext);
  }

  /**
   * Without a transport: on_client_gone and the end (expiry 0), or
   * on_client_offline and the expiry timer (shorter for an anonymous
   * WebSocket session, host-runtime.ts).
   */
  private offline(expiry: number): void {
    notifyTransportLost(this, expiry);
    if (expiry === 0) {
      this.end();
    } else if (expiry < 0xffffffff) {
      this.expiryTimer = setTimeout(() => {
        notifyExpired(this);
        this.end();
      }, expiry * 1000);
      this.expiryTimer.unref();
    }
  }

  /** A CONNECT is being registered on this session: it must not expire meanwhile. */
  holdFor(connId: number): void {
    this.registering = connId;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  /** The CONNECT registering on this session failed or went away before its CONNACK: the session is offline again. */
  abandon(connId: number): void {
    if (this.registering !== connId) return;
    this.registering = undefined;
    if (!this.connected && !this.ended) this.offline(this.expiryAfterDisconnect());
  }

  private scheduleWill(): void {
    const will = this.will;
    if (!will) return;
    this.will = undefined;
    if (will.delaySeconds === 0 || this.sessionExpiry === 0) {
      this.publishWill(will);
      return;
    }
    this.willTimer = setTimeout(() => {
      this.willTimer = undefined;
      this.publishWill(will);
    }, Math.min(will.delaySeconds, this.sessionExpiry) * 1000);
    this.willTimer.unref();
    this.pendingWill = will;
  }

  private publishWill(will: Will): void {
    this.pendingWill = undefined;
    this.publish(will.message);
  }

  private clearTimers(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.willTimer) clearTimeout(this.willTimer);
    this.willTimer = undefined;
    this.pendingWill = undefined;
  }

  /** Ends the session: a will still waiting for its delay goes out now [MQTT-3.1.3-9], subscriptions and queues go. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const will = this.pendingWill;
    this.clearTimers();
    if (will) this.publishWill(will);
    if (this.connId >= 0) {
      this.env.link.end(this.connId);
      this.env.unbind(this.connId);
      this.connId = -1;
    }
    this.redispatchShared();
    this.env.link.drop(this.sid);
    this.flow.clear();
    this.subscriptions.clear();
    this.env.ended(this);
  }

  /**
   * A routed message for this session. A retained message sent because of a
   * new subscription first passes the runtime's is_allowed('subscribe') with
   * its topic; if that answers later, later messages may overtake it.
   */
  deliver(message: AppMessage, target: DeliveryTarget): void {
    const { runtime } = this.env;
    if (!target.stored || !runtime.checksAccess) return this.deliverAllowed(message, target);
    const owned = ownedCopy(message);
    const allowed = runtime.allowed('subscribe', message.topic, owned, this.userContext);
    if (allowed === true) this.deliverAllowed(owned, target, true);
    else if (allowed !== false) void allowed.then((ok) => { if (ok && !this.ended) this.deliverAllowed(owned, target, true); });
  }

  /** `owned`: `message` is already a copy that owns its payload. */
  private deliverAllowed(message: AppMessage, target: DeliveryTarget, owned = false): void {
    const qos = this.limits.upgradeQos ? upgradedQos(this.subscriptions, message.topic, target) : target.qos;
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) {
      this.drops.expired++;
      notifyDrop(this, message, qos, 'expired');
      return;
    }
    const o: Outgoing = { message, qos, retain: target.retain, subscriptionIds: target.subscriptionIds, packetId: 0, state: 'publish' };
    if (target.share !== undefined) o.share = target.share;
    if (o.qos === 0) {
      if (this.connected) sendOutgoing(this, o, false);
      return;
    }
    if (!owned) o.message = ownedCopy(message);
    if (this.connected && this.flow.hasSlot && this.flow.queued === 0) {
      sendOutgoing(this, this.flow.start(o), false);
      return;
    }
    const dropped = this.flow.enqueue(o, queuedBytes(o.message), this.queueCaps());
    if (!this.connected && dropped[0] !== o) notifyOfflineMessage(this, o.message, o.qos, o.retain);
    this.queueFull(dropped);
  }

  /** The bounds of the queue now: the online ones with a transport, the offline ones without. */
  private queueCaps(): QueueCaps {
    const { limits } = this;
    const policy = this.env.config.queueDropPolicy;
    return this.connected
      ? { messages: limits.maxOnlineMessages, bytes: limits.maxOnlineBytes, policy }
      : { messages: limits.maxOfflineMessages, bytes: limits.maxOfflineBytes, policy };
  }

  private queueFull(dropped: readonly Outgoing[]): void {
    for (const o of dropped) {
      this.drops.queueFull++;
      notifyDrop(this, o.message, o.qos, 'queue_full');
    }
  }

  /** Moves queued messages into free inflight slots. */
  pump(): void {
    while (this.connected && this.flow.hasSlot) {
      const o = this.flow.shift();
      if (!o) return;
      if (o.message.expiresAt !== undefined && o.message.expiresAt <= Date.now()) {
        this.drops.expired++;
        notifyDrop(this, o.message, o.qos, 'expired');
        continue;
      }
      sendOutgoing(this, this.flow.start(o), false);
    }
  }

  /**
   * `next(answer)`: at once for an answer given at once; for a promise, once
   * it settles, unless the connection waiting for it is no longer this
   * session's by then.
   */
  whenAnswered<T>(answer: T | Promise<T>, next: (value: T) => void | Promise<void>): void | Promise<void> {
    if (!isPromise(answer)) return next(answer as T);
    const connId = this.connId;
    return (answer as Promise<T>).then((value) => (this.connId === connId ? next(value) : undefined));
  }

  /** Routes a message published by this session's client (or its will); `$SYS/...` routes in the default pool. */
  publish(message: AppMessage): void {
    this.env.link.publish(routingPool(this.pool, message.topic), this.sid, message);
  }

  /**
   * Sends a packet to the current transport. One over the client's Maximum
   * Packet Size is not sent [MQTT-3.1.2-24]: the connection is closed with
   * DISCONNECT 0x95 (when that fits), as the exchange it belonged to cannot
   * complete. PUBLISHes are measured before (session-outbound.ts) and skipped.
   */
  send(bytes: Uint8Array): void {
    if (this.connId < 0) return;
    const limit = this.negotiated.maxOutgoingPacketSize;
    if (limit > 0 && bytes.length > limit) {
      this.env.log.info({ clientId: this.clientId, size: bytes.length, limit }, 'packet over the client\'s Maximum Packet Size, closing');
      this.closeTransport(ReasonCode.PacketTooLarge, 'a packet for the client exceeds its Maximum Packet Size');
      return;
    }
    this.env.link.send(this.connId, bytes);
  }

  sendPacket(packet: mqttPacket.Packet): void {
    this.send(generatePacket(packet, this.protocolVersion));
  }

  /**
   * Sends an acknowledgement with a Reason String on 5.0, unless the client
   * asked for no problem information [MQTT-3.1.2-29] or the string would not
   * fit; one too large even without it goes to send(), which refuses it.
   */
  sendWithReason(packet: mqttPacket.Packet, reasonString: string): void {
    if (this.protocolVersion !== 5) return this.sendPacket(packet);
    const allowed = this.negotiated.requestProblemInformation ? reasonString : undefined;
    this.send(generateWithReason(packet, allowed, this.negotiated.maxOutgoingPacketSize) ?? generatePacket(packet, 5));
  }

  private hasSharedSubscriptions(): boolean {
    for (const filter of this.subscriptions.keys()) if (filter.startsWith(SHARE_PREFIX)) return true;
    return false;
  }

  /**
   * Gives the router back the messages held for shared subscriptions that
   * another member may deliver: queued ones, and QoS 1 ones sent but not
   * acknowledged. QoS 2 ones already sent stay: their delivery must complete
   * with this client [MQTT-4.8.2-4] [MQTT-4.8.2-5].
   */
  private redispatchShared(): void {
    for (const o of this.flow.takeShared()) {
      this.env.link.redispatch(routingPool(this.pool, o.share as string), this.sid, o.share as string, o.message);
    }
  }
}

/** Messages kept beyond the current batch must own their payload. */
function ownedCopy(message: AppMessage): AppMessage {
  const payload = Buffer.allocUnsafe(message.payload.length);
  message.payload.copy(payload);
  const copy: AppMessage = { topic: message.topic, payload, qos: message.qos, retain: message.retain };
  if (message.properties) copy.properties = message.properties as MessageProperties;
  if (message.expiresAt !== undefined) copy.expiresAt = message.expiresAt;
  return copy;
}
