/**
 * One MQTT session as an actor: its subscriptions (session-subscriptions.ts), its outbound QoS 1/2 flow,
 * its inbound QoS 2 ids, its will, its expiry, and the transport it is
 * attached to (or none) with that connection's topic aliases and
 * authentication, and the runtime's user context. It outlives its
 * connections until it expires (the runtime may shorten that); messages it
 * holds for shared subscriptions go back to the router when it goes offline.
 * Its state is private: the handler modules (session-inbound,
 * session-subscribe, session-outbound, session-runtime, auth-flow) see it
 * through the narrow contexts of session-context.ts, which it implements and
 * passes them; a registration attaches a connection with one Attachment.
 * Plain object inside an ActorHost; runs wherever the host runs.
 */
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, UserProperties } from '../../src/shared/message/app-message.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { decodePublish, encodePublish, type EncodablePublish } from '../../src/shared/codec/publish.js';
import type { SubscriberId } from '../../src/api/hooks.js';
import type { SessionOptions, UserContext } from '../../src/api/runtime.js';
import type { DeliveryTarget, TransportClosed, TransportDropReason, TransportInfo } from '../../src/shared/channel/frames.js';
import type { DisconnectCause } from '../../src/shared/disconnect-cause.js';
import type { ConnectionAuth } from '../connect/authenticator.js';
import { routingPool } from '../runtime/pools.js';
import { OutboundFlow, queuedBytes, type Outgoing, type QueueCaps } from './outbound-flow.js';
import { generateDisconnect, generatePacket, generateWithReason } from '../../src/shared/codec/packet-io.js';
import type { RouterLink } from '../router-link.js';
import type {
  Attachment,
  HostServices,
  InboundContext,
  Negotiated,
  OutboundContext,
  RegisteringSession,
  SubscriptionOptions,
} from './session-context.js';
import {
  notifyDrop,
  notifyExpired,
  notifyOfflineMessage,
  notifyTopicsUnsubscribed,
  notifyTransportLost,
  versioned,
} from './session-hooks.js';
import { handleSessionPacket, toAppMessage } from './session-inbound.js';
import { handleValidatedPacket } from './session-runtime.js';
import { defaultLimits, upgradedQos, type SessionLimits } from './session-limits.js';
import { DeliveryGate, encodeOutgoing } from './session-outbound.js';
import { TokenBucket } from './token-bucket.js';
import { InboundAliases, OutboundAliases } from './topic-alias.js';
import { isPromise, type MaybePromise } from '../../src/shared/async.js';
import { SessionSubscriptions } from './session-subscriptions.js';
import { recordedOutgoing, restoredOutgoing, type SessionRecord } from './session-store.js';
import { ownedCopy, withBuffers } from '../../src/shared/message/owned.js';
import { deadlineAfter } from './deadline-timer.js';
import { HeldPackets } from './held-packets.js';
import { SessionLifetime } from './session-lifetime.js';
import type { AfterCommit } from '../session-saver.js';
import { InboundQos2 } from './inbound-qos2.js';

/** What a session needs from its actor host: the services its handlers use, its link to the router, and the host's indexes. */
export interface SessionEnv extends HostServices {
  link: RouterLink;
  /** The host forgets the session (expired, or replaced by a clean start). */
  ended(session: SessionActor): void;
  /** The host stops routing packets of `connId` to this session. */
  unbind(connId: number): void;
  /**
   * What a store keeps of the session changed: its connection, subscriptions,
   * queue, inflight messages, inbound QoS 2 ids or will, or it ended. Called
   * on every such change (per message); the host writes the record once per
   * turn, and does nothing without a store.
   */
  changed(session: SessionActor): void;
  /** Only the session's inflight and queued messages changed (a delivery, an acknowledgement): the store writes those. */
  messagesChanged(session: SessionActor): void;
  /** Calls `next` once everything changed so far is committed (now without a store); true when committed, false when that failed. */
  afterCommit(next: AfterCommit): void;
  /** The QoS 2 publish `qos2Id` got its PUBREL: the marks of the sessions that got a copy go. */
  forgetDelivered(qos2Id: string): void;
}

/** Messages dropped for a session: over a queue limit, over the packet size, over the publish rate, or expired. */
export interface DropCounts {
  queueFull: number;
  packetTooLarge: number;
  rateLimited: number;
  expired: number;
}

export class SessionActor implements InboundContext, OutboundContext, RegisteringSession {
  private connId = -1;
  /** How the current (or last) connection came: told in the session events. */
  private transport: TransportInfo | undefined;
  private negotiated: Negotiated = {
    protocolVersion: 4,
    keepalive: 0,
    maxOutgoingPacketSize: 0,
    topicAliasMaximum: 0,
    requestProblemInformation: true,
  };
  private expiry = 0;
  private user: string | undefined;
  private context: UserContext;
  private options: SessionOptions | undefined;
  private sessionLimits: SessionLimits;
  private registeringConn: number | undefined;
  readonly subscriberId: SubscriberId;
  private auth: ConnectionAuth | undefined;
  /** Topic aliases of the current connection (5.0). */
  private inAliases: InboundAliases | undefined;
  private outAliases: OutboundAliases | undefined;
  private readonly subscriptions: SessionSubscriptions;
  private readonly flow: OutboundFlow;
  private readonly inboundQos2 = new InboundQos2();
  private bucket: TokenBucket;
  /** Deliveries waiting for on_deliver, in order. */
  private readonly deliveries = new DeliveryGate(this);
  private readonly dropCounts: DropCounts = { queueFull: 0, packetTooLarge: 0, rateLimited: 0, expired: 0 };
  /** The will of the connection, a will waiting for its delay, the expiry of the offline session. */
  private readonly lifetime = new SessionLifetime({
    publishWill: (will) => {
      this.publish(will.message);
      this.host.changed(this);
    },
    expired: () => {
      // As VerneMQ: on_topic_unsubscribed(all_topics), then on_session_expired, then the end (and a will still waiting).
      this.dropSubscriptions();
      notifyExpired(this);
      this.end();
    },
  });
  private ended = false;
  /** In a cluster: the claim that made this node the owner of the session for its connection (0: none). */
  clusterClaim = 0;
  /** The session continues on another node (moveAway): its ownership went with it. */
  movedAway = false;
  /** What comes while a hook of a packet of this session answers asynchronously. */
  private readonly held = new HeldPackets();
  /** Packets received from and sent to its clients, over every connection (the sessions with the most are watched). */
  packetsIn = 0;
  packetsOut = 0;

  constructor(
    private readonly host: SessionEnv,
    readonly sid: number,
    readonly pool: string,
    readonly clientId: string,
  ) {
    this.flow = new OutboundFlow(host.config.maxInflightMessages);
    this.subscriptions = new SessionSubscriptions(host.link, sid, pool);
    this.bucket = new TokenBucket(host.config.maxIncomingMessagesRate, host.config.maxIncomingMessagesBurst, Date.now());
    this.sessionLimits = defaultLimits(host.config);
    this.subscriberId = Object.freeze({ mountpoint: pool, clientId });
  }

  get env(): HostServices {
    return this.host;
  }

  get connected(): boolean {
    return this.connId >= 0;
  }

  get protocolVersion(): number {
    return this.negotiated.protocolVersion;
  }

  get maxOutgoingPacketSize(): number {
    return this.negotiated.maxOutgoingPacketSize;
  }

  get sessionExpiry(): number {
    return this.expiry;
  }

  get username(): string | undefined {
    return this.user;
  }

  get userContext(): UserContext {
    return this.context;
  }

  get transportOptions(): SessionOptions | undefined {
    return this.options;
  }

  get limits(): Readonly<SessionLimits> {
    return this.sessionLimits;
  }

  get registering(): number | undefined {
    return this.registeringConn;
  }

  get connectionAuth(): ConnectionAuth | undefined {
    return this.auth;
  }

  get inboundAliases(): InboundAliases | undefined {
    return this.inAliases;
  }

  get outboundAliases(): OutboundAliases | undefined {
    return this.outAliases;
  }

  get drops(): Readonly<DropCounts> {
    return this.dropCounts;
  }

  /** Messages waiting for an inflight slot. */
  get queued(): number {
    return this.flow.queued;
  }

  /** Estimated bytes of the queued messages. */
  get queuedBytes(): number {
    return this.flow.queuedBytes;
  }

  /** Unacknowledged outgoing QoS 1/2 messages. */
  get inflight(): number {
    return this.flow.inflight.size;
  }

  /**
   * Takes the connection its registration accepted: the settings it decided,
   * CONNACK, then fresh topic aliases [MQTT-3.3.2-7] and the resend of what
   * was unacknowledged [MQTT-4.4.0-1], then the queue.
   */
  attach(a: Attachment): void {
    const { config, link } = this.host;
    this.takeLimits(a.limits);
    const { connId, negotiated } = a;
    this.registeringConn = undefined;
    this.context = a.userContext;
    this.user = a.username;
    this.expiry = a.sessionExpiry;
    this.negotiated = negotiated;
    this.auth = a.auth;
    this.connId = connId;
    this.transport = a.transport;
    this.options = a.transportOptions;
    this.send(a.connack);
    link.accepted(connId, negotiated.keepalive, a.maxIncomingPacketSize, negotiated.maxOutgoingPacketSize);
    this.lifetime.attached(a.will);
    this.flow.window = Math.min(a.limits.maxInflightMessages, a.receiveMaximum);
    // Inbound QoS 2 ids awaiting PUBREL are session state: kept across connections [MQTT-4.3.3-10].
    const v5 = negotiated.protocolVersion === 5;
    const { topicAliasMaximum } = a.limits;
    this.inAliases = v5 && topicAliasMaximum > 0 ? new InboundAliases(topicAliasMaximum) : undefined;
    const outgoing = Math.min(negotiated.topicAliasMaximum, config.maxOutgoingTopicAliases);
    this.outAliases = v5 && outgoing > 0 ? new OutboundAliases(outgoing) : undefined;
    if (this.subscriptions.hasShared()) link.presence(this.sid, true);
    for (const o of this.flow.inflight.values()) {
      if (this.deliveries.holds(o)) continue; // sent once on_deliver answers
      if (o.state === 'publish') this.sendOutgoing(o, true);
      else this.send(generatePacket({ cmd: 'pubrel', messageId: o.packetId }, negotiated.protocolVersion));
    }
    this.pump();
    this.host.changed(this);
    const { transport } = a;
    link.event({
      name: 'client-connected',
      clientId: this.clientId,
      detail: {
        username: a.username,
        pool: this.pool,
        protocolVersion: negotiated.protocolVersion,
        transport: transport.type,
        remoteAddress: transport.remoteAddress,
        remotePort: transport.remotePort,
        sessionPresent: a.sessionPresent,
      },
    });
  }

  /** The limits of a new connection (or of a stored session); the publish rate's bucket starts afresh when its rate changed. */
  private takeLimits(limits: SessionLimits): void {
    const { config } = this.host;
    if (limits.maxMessageRate !== this.sessionLimits.maxMessageRate) {
      const burst = limits.maxMessageRate === config.maxIncomingMessagesRate ? config.maxIncomingMessagesBurst : 0;
      this.bucket = new TokenBucket(limits.maxMessageRate, burst, Date.now());
    }
    this.sessionLimits = limits;
  }

  handlePacket(connId: number, bytes: Buffer): void {
    this.packetsIn++;
    if (this.held.holding) this.held.push({ connId, bytes });
    else this.process(connId, bytes);
  }

  private process(connId: number, bytes: Buffer): void {
    if (connId !== this.connId) return;
    let pending: MaybePromise<void>;
    try {
      pending = this.host.runtime.checksMessages
        ? handleValidatedPacket(this, bytes, handleSessionPacket)
        : handleSessionPacket(this, bytes);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!pending) return;
    this.held.hold();
    pending
      .then(undefined, (err: unknown) => {
        if (connId === this.connId) this.fail(err);
      })
      .then(() => this.release());
  }

  /** Handles what waited for a hook, until one more hook answers asynchronously. */
  private release(): void {
    this.held.release((h) => (h.bytes ? this.process(h.connId, h.bytes) : this.transportClosed(h.connId, h.closed)));
  }

  /** A packet's handling failed: a ProtocolError disconnects with its code, anything else with 0x83. */
  fail(err: unknown): void {
    if (err instanceof ProtocolError) {
      this.host.log.info({ clientId: this.clientId, reasonCode: err.reasonCode, err: err.message }, 'protocol error, closing');
      this.disconnect('protocol-error', err.reasonCode, err.message);
    } else {
      this.host.log.error({ clientId: this.clientId, err }, 'session failed on a packet, closing');
      this.closeTransport(ReasonCode.ImplementationSpecificError);
    }
  }

  /**
   * The broker ends the connection on its own account: DISCONNECT (5.0 only)
   * with `reasonCode`, `reasonString` (whatever Request Problem Information
   * said) and `serverReference`, the close, and an abnormal loss: the will
   * follows.
   */
  closeTransport(reasonCode: number, reasonString?: string, serverReference?: string): void {
    this.disconnect('server-disconnect', reasonCode, reasonString, serverReference);
  }

  /** Another connection takes the session: DISCONNECT 0x8E (5.0) and the close [MQTT-3.1.4-3]; the will follows. */
  takenOver(): void {
    this.disconnect('takeover', ReasonCode.SessionTakenOver);
  }

  /** closeTransport() for `cause`, which the session event tells. */
  private disconnect(cause: DisconnectCause, reasonCode: number, reasonString?: string, serverReference?: string): void {
    const connId = this.connId;
    if (connId < 0) return;
    if (this.protocolVersion === 5) {
      const disconnect: mqttPacket.IDisconnectPacket = { cmd: 'disconnect', reasonCode };
      if (serverReference !== undefined) disconnect.properties = { serverReference };
      const bytes = generateDisconnect(disconnect, reasonString, this.negotiated.maxOutgoingPacketSize);
      if (bytes) this.send(bytes);
    }
    this.host.link.end(connId);
    const code = `server disconnect 0x${reasonCode.toString(16)}`;
    this.detach(cause, reasonString === undefined ? code : `${code}: ${reasonString}`);
  }

  /** The host shuts down: `disconnect` (5.0 only, when it fits) and the close; the session stays as it is. */
  shutdownTransport(disconnect: mqttPacket.IDisconnectPacket): void {
    const connId = this.connId;
    if (connId < 0) return;
    const bytes = this.protocolVersion === 5 ? generateDisconnect(disconnect, undefined, this.negotiated.maxOutgoingPacketSize) : undefined;
    if (bytes) this.send(bytes);
    this.host.link.end(connId);
    this.disconnected('server-shutdown', `server shutting down 0x${(disconnect.reasonCode ?? 0).toString(16)}`);
  }

  /** The transport is gone without a normal DISCONNECT (after the packets that wait for a hook). */
  transportClosed(connId: number, closed: TransportClosed): void {
    if (this.held.holding) {
      this.held.push({ connId, closed });
      return;
    }
    if (connId !== this.connId) return;
    this.detach(closed.cause, closed.reason);
  }

  clientDisconnected(keepWill: boolean, sessionExpiry?: number): void {
    if (sessionExpiry !== undefined) this.expiry = sessionExpiry;
    if (!keepWill) this.lifetime.will = undefined;
    const connId = this.connId;
    this.host.link.end(connId);
    this.detach('client-disconnect', keepWill ? 'client DISCONNECT with will' : 'client DISCONNECT');
  }

  private detach(cause: DisconnectCause, reason: string): void {
    const connId = this.connId;
    this.host.unbind(connId);
    this.connId = -1;
    this.auth = undefined;
    this.inAliases = this.outAliases = undefined;
    this.disconnected(cause, reason);
    if (this.subscriptions.hasShared()) this.host.link.presence(this.sid, false);
    this.redispatchShared();
    const expiry = this.expiryAfterDisconnect();
    // A session that ends now takes its queue with it: nothing to trim or report.
    if (expiry > 0) this.queueFull(this.flow.trim(this.queueCaps()));
    this.lifetime.transportGone(this.expiry);
    this.offline(expiry);
    this.host.changed(this);
  }

  /** The 'client-disconnected' event of the connection that just went. */
  private disconnected(cause: DisconnectCause, reason: string): void {
    const transport = this.transport!;
    this.host.link.event({
      name: 'client-disconnected',
      clientId: this.clientId,
      detail: {
        username: this.user,
        pool: this.pool,
        transport: transport.type,
        remoteAddress: transport.remoteAddress,
        remotePort: transport.remotePort,
        cause,
        reason,
      },
    });
  }

  /** The session's expiry once its transport is gone, as the runtime may shorten it. */
  private expiryAfterDisconnect(): number {
    return this.host.runtime.expiryAfterDisconnect(this.host.config, this.expiry, this.context);
  }

  /**
   * Without a transport: on_client_gone and the end (expiry 0), or
   * on_client_offline and the expiry timer (shorter for an anonymous
   * WebSocket session, host-runtime.ts).
   */
  private offline(expiry: number): void {
    notifyTransportLost(this, expiry);
    if (expiry === 0) this.end();
    else this.lifetime.expireAt(deadlineAfter(expiry));
  }

  holdFor(connId: number): void {
    this.registeringConn = connId;
    this.lifetime.holdExpiry();
  }

  abandon(connId: number): void {
    if (this.registeringConn !== connId) return;
    this.registeringConn = undefined;
    if (!this.connected && !this.ended) this.offline(this.expiryAfterDisconnect());
  }

  /** The session continues on another node from its record: it ends here without its will, which moved with the record. */
  moveAway(): void {
    this.movedAway = true;
    this.lifetime.forget();
    this.end();
  }

  /** Ends the session: a will still waiting for its delay goes out now [MQTT-3.1.3-9], subscriptions and queues go. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.lifetime.end();
    if (this.connId >= 0) {
      this.host.link.end(this.connId);
      this.host.unbind(this.connId);
      this.connId = -1;
    }
    this.dropSubscriptions();
    this.flow.clear();
    this.host.ended(this);
    this.host.changed(this);
  }

  /** Every subscription goes (on_topic_unsubscribed(all_topics) first): shared ones hand their held messages on, the router forgets them. */
  private dropSubscriptions(): void {
    if (this.subscriptions.size === 0) return;
    notifyTopicsUnsubscribed(this, 'all_topics');
    this.redispatchShared();
    this.subscriptions.dropAll();
  }

  /**
   * A routed message for this session. A retained message sent because of a
   * new subscription first passes the runtime's is_allowed('subscribe') with
   * its topic; if that answers later, later messages may overtake it.
   */
  deliver(message: AppMessage, target: DeliveryTarget): void {
    const { runtime } = this.host;
    if (!target.stored || !runtime.checksAccess) return this.deliverAllowed(message, target);
    const owned = ownedCopy(message);
    const allowed = runtime.allowed('subscribe', message.topic, owned, this.context);
    if (allowed === true) this.deliverAllowed(owned, target, true);
    else if (allowed !== false)
      void allowed.then((ok) => {
        if (ok && !this.ended) this.deliverAllowed(owned, target, true);
      });
  }

  /** `owned`: `message` is already a copy that owns its payload. */
  private deliverAllowed(message: AppMessage, target: DeliveryTarget, owned = false): void {
    const qos = this.sessionLimits.upgradeQos ? upgradedQos(this.subscriptions.options, message.topic, target) : target.qos;
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) {
      this.dropCounts.expired++;
      notifyDrop(this, message, qos, 'expired');
      return;
    }
    const o: Outgoing = { message, qos, retain: target.retain, subscriptionIds: target.subscriptionIds, packetId: 0, state: 'publish' };
    if (target.share !== undefined) o.share = target.share;
    if (o.qos === 0) {
      if (this.connected) this.sendOutgoing(o, false);
      return;
    }
    if (!owned) o.message = ownedCopy(message);
    this.host.messagesChanged(this);
    if (this.connected && this.flow.hasSlot && this.flow.queued === 0) {
      this.sendOutgoing(this.flow.start(o), false);
      return;
    }
    const dropped = this.flow.enqueue(o, queuedBytes(o.message), this.queueCaps());
    if (!this.connected && dropped[0] !== o) notifyOfflineMessage(this, o.message, o.qos, o.retain);
    this.queueFull(dropped);
  }

  /** Sends `o`; a first send (not a resend with DUP) goes through on_deliver when a plugin implements it. */
  private sendOutgoing(o: Outgoing, dup: boolean): void {
    if (!dup && this.host.hooks.has(versioned(this, 'on_deliver'))) this.deliveries.push(o);
    else encodeOutgoing(this, o, dup);
  }

  /** The bounds of the queue now: the online ones with a transport, the offline ones without. */
  private queueCaps(): QueueCaps {
    const limits = this.sessionLimits;
    const policy = this.host.config.queueDropPolicy;
    return this.connected
      ? { messages: limits.maxOnlineMessages, bytes: limits.maxOnlineBytes, policy }
      : { messages: limits.maxOfflineMessages, bytes: limits.maxOfflineBytes, policy };
  }

  private queueFull(dropped: readonly Outgoing[]): void {
    for (const o of dropped) {
      this.dropCounts.queueFull++;
      notifyDrop(this, o.message, o.qos, 'queue_full');
    }
  }

  /** Moves queued messages into free inflight slots. */
  private pump(): void {
    while (this.connected && this.flow.hasSlot) {
      const o = this.flow.shift();
      if (!o) return;
      if (o.message.expiresAt !== undefined && o.message.expiresAt <= Date.now()) {
        this.dropCounts.expired++;
        notifyDrop(this, o.message, o.qos, 'expired');
        continue;
      }
      this.sendOutgoing(this.flow.start(o), false);
    }
  }

  acknowledged(packetId: number, state: Outgoing['state']): void {
    if (!this.flow.complete(packetId, state)) return;
    this.host.messagesChanged(this);
    this.pump();
  }

  pubrecReceived(packetId: number): boolean {
    if (!this.flow.released(packetId)) return false;
    this.host.messagesChanged(this);
    return true;
  }

  holdsInflight(o: Outgoing): boolean {
    return this.flow.inflight.get(o.packetId) === o;
  }

  oversized(o: Outgoing): void {
    this.dropCounts.packetTooLarge++;
    notifyDrop(this, o.message, o.qos, 'max_packet_size_exceeded');
    if (o.qos > 0) this.acknowledged(o.packetId, 'publish');
  }

  takePublishToken(now: number): boolean {
    if (this.bucket.take(now)) return true;
    this.dropCounts.rateLimited++;
    return false;
  }

  borrowPublishToken(now: number): void {
    const waitMs = this.bucket.borrow(now);
    if (waitMs > 0) this.throttle(waitMs);
  }

  throttle(ms: number): void {
    if (this.connId >= 0) this.host.link.throttle(this.connId, ms);
  }

  awaitsRelease(packetId: number): boolean {
    return this.inboundQos2.has(packetId);
  }

  get awaitingRelease(): number {
    return this.inboundQos2.size;
  }

  holdForRelease(packetId: number): void {
    this.inboundQos2.hold(packetId);
    this.host.changed(this);
  }

  releaseReceived(packetId: number): boolean {
    const { held, qos2Id } = this.inboundQos2.release(packetId);
    if (!held) return false;
    if (qos2Id !== undefined) this.host.forgetDelivered(qos2Id);
    this.host.changed(this);
    return true;
  }

  adoptUserContext(userContext: UserContext): void {
    this.context = userContext;
    this.host.changed(this);
  }

  /** Subscribes to `filter` (SessionSubscriptions.subscribe): the router gets it, retained messages as its options say. */
  subscribe(filter: string, options: SubscriptionOptions): void {
    this.subscriptions.subscribe(filter, options);
    this.host.changed(this);
  }

  unsubscribe(filter: string): boolean {
    if (!this.subscriptions.unsubscribe(filter)) return false;
    this.host.changed(this);
    return true;
  }

  /** The session's inflight and queued messages, as a record keeps them. */
  toMessages(): Pick<SessionRecord, 'inflight' | 'queued'> {
    return {
      inflight: Array.from(this.flow.inflight.values(), recordedOutgoing),
      queued: this.flow.queuedMessages().map(recordedOutgoing),
    };
  }

  /**
   * What a store keeps of this session: a snapshot that shares no mutable
   * state with it (the messages are shared; a queued message is never
   * changed in place). A connected session is recorded as it would be
   * offline from now.
   */
  toRecord(): SessionRecord {
    const record: SessionRecord = {
      pool: this.pool,
      clientId: this.clientId,
      protocolVersion: this.protocolVersion,
      sessionExpiry: this.expiry,
      expiresAt: this.connected ? deadlineAfter(this.expiryAfterDisconnect()) : this.lifetime.deadline,
      userContext: this.context,
      limits: { ...this.sessionLimits },
      subscriptions: this.subscriptions.toRecords(),
      ...this.toMessages(),
      ...this.inboundQos2.toRecord(),
    };
    if (this.user !== undefined) record.username = this.user;
    const will = this.lifetime.recordedWill();
    if (will) record.will = will;
    return record;
  }

  /**
   * Takes back a stored session into this new one, offline: its
   * subscriptions go to the router again (no retained messages, shared ones
   * as offline members), its expiry and a will waiting for its delay keep
   * their deadlines, and the will of a session recorded while connected
   * follows its transport loss. A deadline already past applies at once.
   */
  restore(record: SessionRecord): void {
    this.negotiated = { ...this.negotiated, protocolVersion: record.protocolVersion };
    this.expiry = record.sessionExpiry;
    this.context = record.userContext;
    this.user = record.username;
    this.takeLimits({ ...record.limits });
    this.subscriptions.restore(record.subscriptions);
    if (this.subscriptions.hasShared()) this.host.link.presence(this.sid, false);
    this.flow.restore(record.inflight.map(restoredOutgoing), record.queued.map(restoredOutgoing));
    this.inboundQos2.restore(record.awaitingRelease, record.inboundQos2);
    if (record.will) this.lifetime.restore({ ...record.will, message: withBuffers(record.will.message) }, this.expiry);
    this.lifetime.expireAt(record.expiresAt);
  }

  /**
   * A QoS 0 PUBLISH the main thread dropped for this session's connection:
   * queue_full when its socket held over maxConnectionBufferBytes (the socket
   * buffer being the queue of QoS 0 messages), max_packet_size_exceeded when
   * the topic of a Topic Alias the client missed made it too large.
   */
  transportDropped(packet: Buffer, reason: TransportDropReason): void {
    if (!this.host.hooks.has('on_message_drop')) return;
    const decoded = decodePublish(packet, this.protocolVersion);
    const alias = decoded.properties?.topicAlias;
    if (decoded.topic === '' && alias !== undefined) decoded.topic = this.outAliases?.topicOf(alias) ?? '';
    notifyDrop(this, toAppMessage(decoded), 0, reason);
  }

  whenAnswered<T>(answer: MaybePromise<T>, next: (value: T) => MaybePromise<void>): MaybePromise<void> {
    if (!isPromise(answer)) return next(answer);
    const connId = this.connId;
    return answer.then((value) => (this.connId === connId ? next(value) : undefined));
  }

  /** Routes a message published by this session's client (or its will); `$SYS/...` routes in the default pool. */
  publish(message: AppMessage, pool = this.pool): void {
    this.host.link.publish(routingPool(pool, message.topic), this.sid, message);
  }

  publishKept(message: AppMessage, packetId: number, inPool = this.pool): MaybePromise<boolean> {
    const acks = this.host.acks;
    if (acks === undefined) {
      this.publish(message, inPool);
      return true;
    }
    const { ackId, kept } = acks.reserve();
    const pool = routingPool(inPool, message.topic);
    if (message.qos !== 2) {
      this.host.link.publish(pool, this.sid, message, ackId);
      return kept;
    }
    const { qos2Id, resent } = this.inboundQos2.route(packetId);
    this.inboundQos2.keeping(packetId, kept);
    this.host.changed(this);
    const routed: AppMessage = resent ? { ...message, qos2Id, resent } : { ...message, qos2Id };
    // Exactly once across a crash: the held id (and its publish id) is kept before any subscriber's copy can be.
    this.host.afterCommit((ok) => (ok ? this.host.link.publish(pool, this.sid, routed, ackId) : acks.released(ackId, false)));
    return kept;
  }

  keptRelease(packetId: number): MaybePromise<boolean> | undefined {
    return this.inboundQos2.kept(packetId);
  }

  sendAfterCommit(bytes: Uint8Array): void {
    const connId = this.connId;
    this.host.afterCommit(() => {
      if (this.connId === connId) this.send(bytes);
    });
  }

  whenKept(kept: Promise<boolean>, next: (ok: boolean) => void): void {
    const connId = this.connId;
    void kept.then((ok) => {
      if (this.connId === connId) next(ok);
    });
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
      this.host.log.info({ clientId: this.clientId, size: bytes.length, limit }, "packet over the client's Maximum Packet Size, closing");
      this.closeTransport(ReasonCode.PacketTooLarge, 'a packet for the client exceeds its Maximum Packet Size');
      return;
    }
    this.packetsOut++;
    this.host.link.send(this.connId, bytes);
  }

  sendShared(key: number, packet: EncodablePublish): void {
    if (this.connId < 0) return;
    const { link } = this.host;
    this.packetsOut++;
    link.sendShared(this.connId, key, link.sharedBytes(key) ?? encodePublish(packet, this.protocolVersion));
  }

  sendPacket(packet: mqttPacket.Packet): void {
    this.send(generatePacket(packet, this.protocolVersion));
  }

  /**
   * Sends an acknowledgement with a Reason String on 5.0, unless the client
   * asked for no problem information [MQTT-3.1.2-29] or the string would not
   * fit; one too large even without it goes to send(), which refuses it.
   */
  sendWithReason(packet: mqttPacket.Packet, reasonString: string | undefined, userProperties?: UserProperties): void {
    if (this.protocolVersion !== 5) return this.sendPacket(packet);
    // [MQTT-3.1.2-29]: without Request Problem Information, no Reason String or User Properties but on PUBLISH, CONNACK and DISCONNECT.
    const problems = this.negotiated.requestProblemInformation;
    const { properties } = packet as { properties?: Record<string, unknown> };
    const full =
      problems && userProperties !== undefined
        ? ({ ...packet, properties: { ...properties, userProperties } } as mqttPacket.Packet)
        : packet;
    this.send(
      generateWithReason(full, problems ? reasonString : undefined, this.negotiated.maxOutgoingPacketSize) ?? generatePacket(packet, 5),
    );
  }

  /**
   * Gives the router back the messages held for shared subscriptions that
   * another member may deliver: queued ones, and QoS 1 ones sent but not
   * acknowledged. QoS 2 ones already sent stay: their delivery must complete
   * with this client [MQTT-4.8.2-4] [MQTT-4.8.2-5].
   */
  private redispatchShared(): void {
    for (const o of this.flow.takeShared()) {
      this.host.link.redispatch(routingPool(this.pool, o.share!), this.sid, o.share!, o.message);
    }
  }
}
