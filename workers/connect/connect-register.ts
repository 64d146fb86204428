/**
 * The registration of a CONNECT that passed its checks (and its enhanced
 * authentication, if any), in VerneMQ's order with the session runtime
 * deciding after the plugins: auth_on_register(_m5) and its modifiers → on
 * the host that owns the subscriber id they give (the registration moves
 * there when it is another, connect-move.ts) the runtime's connect (with
 * the session's user context, or a new one from new_user_context) → attach to the session (taking over a connected one,
 * whose on_client_offline / on_client_gone runs; clean start; then
 * on_client_wakeup) → on_register(_m5) → auth_on_publish(_m5) of the will,
 * then the runtime's is_allowed('publish') of it → the session's attach()
 * with one Attachment holding all the registration decided (CONNACK, the
 * user context connect answered, the limits, the will) → the session's
 * queued messages and the packets that arrived meanwhile. While a plugin answers asynchronously
 * the actor host holds the connection's later packets; a connection that
 * closes meanwhile is not registered. Runs wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, MessageProperties } from '../../src/shared/message/app-message.js';
import { ConnackReturnCode, ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { anonymousAllowed, type BrokerConfig } from '../../src/api/config.js';
import type { ChainOutcome } from '../../src/shared/hooks/chain.js';
import type { Peer, PublishModifiers, RegisterModifiers } from '../../src/api/hooks.js';
import type { ConnectAnswer, ConnectPacket, SessionOptions } from '../../src/api/runtime.js';
import { refuseConnect } from './connect-refusal.js';
import type { Authenticated, OpenFrame, SessionDirectory } from './connect-types.js';
import { applyPublishModifiers, refusalOf } from '../hooks/hook-outcomes.js';
import { sessionOptions } from '../runtime/host-runtime.js';
import { generateConnack, generatePacket } from '../../src/shared/codec/packet-io.js';
import type { RegisteringSession, Will } from '../session/session-context.js';
import { applyRegisterModifiers, minLimit, type Registration, type SessionLimits } from '../session/session-limits.js';
import { ownerHost, writeMovedConnect, type MovedConnect } from './connect-move.js';
import { andThen, isPromise, type MaybePromise } from '../../src/shared/async.js';
import { expiryDeadline } from '../../src/shared/message/expiry.js';

/** Registers `connect` in `pool` (its `username` is already the user part of a `vhost:user` name, when usernames carry a vhost). */
export function register(
  dir: SessionDirectory,
  open: OpenFrame,
  connect: mqttPacket.IConnectPacket,
  pool: string,
  authenticated: Authenticated | undefined,
): void {
  const registration = new Register(dir, open, connect, pool, authenticated);
  run(registration, () => registration.start());
}

/** Goes on with a CONNECT whose registration another host began (connect-move.ts): from the runtime's connect on. */
export function registerMoved(dir: SessionDirectory, open: OpenFrame, connect: mqttPacket.IConnectPacket, moved: MovedConnect): void {
  const registration = new Register(dir, open, connect, moved.registration.subscriberId.mountpoint, moved.authenticated);
  run(registration, () => registration.resume(moved.registration));
}

/** Runs a step of `registration`; a throw, now or in a continuation, closes the connection without CONNACK. */
function run(registration: Register, step: () => MaybePromise<void>): void {
  let pending: MaybePromise<void>;
  try {
    pending = step();
  } catch (err) {
    registration.failed(err);
    return;
  }
  if (pending) pending.catch((err: unknown) => registration.failed(err));
}

class Register {
  private readonly v5: boolean;
  private readonly connId: number;
  private readonly peer: Peer;
  private readonly opts: SessionOptions;
  private session: RegisteringSession | undefined;
  private sessionPresent = false;
  private registration: Registration | undefined;
  /** In a cluster: the claim that made this node the owner of the session (0: none). */
  private clusterClaim = 0;
  /** The runtime's accepting answer: its user context becomes the session's in accept(). */
  private answer: ConnectAnswer | undefined;

  constructor(
    private readonly dir: SessionDirectory,
    private readonly open: OpenFrame,
    private readonly connect: mqttPacket.IConnectPacket,
    private readonly pool: string,
    private readonly authenticated: Authenticated | undefined,
  ) {
    this.v5 = connect.protocolVersion === 5;
    this.connId = open.connId;
    this.peer = { address: open.transport.remoteAddress, port: open.transport.remotePort };
    this.opts = sessionOptions(open.transport);
  }

  /**
   * auth_on_register(_m5). Without a plugin implementing it, `allowAnonymous`
   * decides (as the main thread decided it for the hosts, anonymousAllowed);
   * with plugins, an error refuses, and a chain where every plugin said
   * `next` refuses unless anonymous clients are allowed (or enhanced
   * authentication already succeeded).
   */
  start(): MaybePromise<void> {
    const { hooks, config } = this.dir;
    const hook = this.v5 ? 'auth_on_register_m5' : 'auth_on_register';
    if (!hooks.has(hook)) {
      if (!anonymousAllowed(config) && !this.authenticated)
        return this.refuse(ReasonCode.NotAuthorized, 'anonymous clients are not allowed');
      return this.runtimeConnect(undefined);
    }
    const c = this.connect;
    const password = c.password === undefined ? undefined : Buffer.from(c.password);
    const args: unknown[] = [this.peer, { mountpoint: this.pool, clientId: this.open.clientId }, c.username, password, c.clean !== false];
    if (this.v5) args.push(c.properties ?? {});
    return this.whileConnecting(hooks.tillOk<RegisterModifiers>(hook, args), (outcome) => this.authorized(outcome));
  }

  private authorized(outcome: ChainOutcome<RegisterModifiers>): MaybePromise<void> {
    if (outcome.kind === 'ok') return this.runtimeConnect(outcome.modifiers);
    if (outcome.kind === 'error') {
      const refusal = refusalOf(outcome.reason, ReasonCode.NotAuthorized);
      return this.refuse(refusal.reasonCode, refusal.reasonString ?? 'not authorized', refusal.serverReference);
    }
    if (anonymousAllowed(this.dir.config) || this.authenticated) return this.runtimeConnect(undefined);
    return this.refuse(ReasonCode.NotAuthorized, 'no plugin accepted the client');
  }

  /**
   * The runtime's connect, with the user context of the session this CONNECT
   * would resume or take over, or a new one (new_user_context) when there is
   * none. An answer given later is for the session as it was: when another
   * CONNECT of the client id created, replaced or changed that session
   * meanwhile, connect is asked again about the session there is now. A
   * refusal by connect leaves that session and its connection untouched.
   * Once connect accepted, the takeover (attach) closes the old connection
   * and a clean start ends the old session, whatever follows; a refusal
   * after it (the will's checks, a CONNACK too large) leaves the session
   * offline with its user context, limits and negotiated expiry as they were
   * (its expiry timer starts again).
   */
  private runtimeConnect(mods: RegisterModifiers | undefined): MaybePromise<void> {
    const { dir } = this;
    const registration = applyRegisterModifiers(
      dir.config,
      { mountpoint: this.pool, clientId: this.open.clientId },
      this.connect.clean !== false,
      mods,
      this.v5,
      dir.log,
    );
    const owner = ownerHost(dir.config, registration.subscriberId.clientId);
    if (owner !== dir.index) return this.move(owner, registration);
    return this.resume(registration);
  }

  /**
   * Goes on with `registration` here, on the host that owns its subscriber
   * id; in a cluster, once this node owns the session cluster-wide (the
   * node that had it ended its connection, 0x8E, and handed its state over).
   */
  resume(registration: Registration): MaybePromise<void> {
    this.registration = registration;
    if (this.dir.config.cluster === null) return this.askRuntime();
    const { mountpoint, clientId } = registration.subscriberId;
    return this.whileConnecting(this.dir.claimSession(this.connId, mountpoint, clientId), (claim) => {
      if (claim === 0) return this.refuse(ReasonCode.ServerUnavailable, 'the cluster cannot be reached');
      this.clusterClaim = claim;
      return this.askRuntime();
    });
  }

  /**
   * auth_on_register named a subscriber id another host owns (a rewritten
   * client id): the registration goes on there, where that session lives or
   * will live, so a second CONNECT of that id takes it over as one of equal
   * client ids would.
   */
  private move(owner: number, registration: Registration): void {
    const moved: MovedConnect = { username: this.connect.username, authenticated: this.authenticated, registration };
    this.dir.moveConnect(this.open, owner, writeMovedConnect(moved));
  }

  private askRuntime(): MaybePromise<void> {
    const { dir } = this;
    const {
      subscriberId: { mountpoint: pool, clientId },
      cleanStart,
    } = this.registration!;
    const existing = dir.find(pool, clientId);
    const userContext = existing ? existing.userContext : dir.runtime.newUserContext(pool, clientId, this.opts);
    const sessionPresent = existing !== undefined && !cleanStart;
    const packet = this.connect as unknown as ConnectPacket;
    const answer = dir.runtime.connect(packet, sessionPresent, this.opts, userContext);
    if (!isPromise(answer)) return this.connected(answer);
    return this.whileConnecting(answer, (later) => {
      const now = dir.find(pool, clientId);
      if (now !== existing || (now !== undefined && now.userContext !== userContext)) return this.askRuntime();
      return this.connected(later);
    });
  }

  private connected(answer: ConnectAnswer): MaybePromise<void> {
    if (answer.reasonCode !== ReasonCode.Success)
      return this.refuse(answer.reasonCode, answer.reasonString ?? 'refused by the session runtime', answer.serverReference);
    this.answer = answer;
    return this.attach();
  }

  /** Finds, takes over or creates the session, then on_client_wakeup. */
  private attach(): MaybePromise<void> {
    const { dir, connId } = this;
    const registration = this.registration!;
    const { mountpoint: pool, clientId } = registration.subscriberId;
    let session = dir.find(pool, clientId);
    // An earlier CONNECT of this client id still waiting for its hooks loses to this one.
    if (session?.registering !== undefined && session.registering !== connId) dir.endRaw(session.registering);
    if (session?.connected) {
      session.takenOver(); // [MQTT-3.1.4-3]
      session = dir.find(pool, clientId);
    }
    if (session && registration.cleanStart) {
      session.end();
      session = undefined;
    }
    this.sessionPresent = session !== undefined;
    session ??= dir.create(pool, clientId);
    session.holdFor(connId);
    session.clusterClaim = this.clusterClaim;
    this.session = session;
    return this.whileConnecting(dir.hooks.all('on_client_wakeup', [session.subscriberId]), () => this.registered(session));
  }

  private registered(session: RegisteringSession): MaybePromise<void> {
    const args: unknown[] = [this.peer, session.subscriberId, this.connect.username];
    if (this.v5) args.push(this.connect.properties ?? {});
    return this.whileConnecting(this.dir.hooks.all(this.v5 ? 'on_register_m5' : 'on_register', args), () => this.checkWill(session));
  }

  /**
   * auth_on_publish(_m5) of the will (its modifiers apply to the will), then
   * the runtime's is_allowed('publish') of the result; a refusal is CONNACK
   * not authorized.
   */
  private checkWill(session: RegisteringSession): MaybePromise<void> {
    const { hooks } = this.dir;
    const hook = this.v5 ? 'auth_on_publish_m5' : 'auth_on_publish';
    if (!this.connect.will) return this.accept(session, undefined);
    const will = willFrom(this.connect.will, this.v5);
    if (!hooks.has(hook)) return this.runtimeWill(session, will);
    const m = will.message;
    const args: unknown[] = [this.connect.username, session.subscriberId, m.qos, m.topic, m.payload, m.retain];
    if (this.v5) args.push(m.properties ?? {});
    return this.whileConnecting(hooks.tillOk<PublishModifiers | Buffer>(hook, args), (outcome) => {
      if (outcome.kind !== 'ok') return this.refuseWill(session);
      will.message = applyPublishModifiers(will.message, outcome.modifiers, this.v5);
      return this.runtimeWill(session, will);
    });
  }

  private runtimeWill(session: RegisteringSession, will: Will): MaybePromise<void> {
    const allowed = this.dir.runtime.allowed('publish', will.message.topic, will.message, this.answer!.userContext);
    return this.whileConnecting(allowed, (ok) => (ok ? this.accept(session, will) : this.refuseWill(session)));
  }

  private refuseWill(session: RegisteringSession): void {
    this.refuse(ReasonCode.NotAuthorized, 'will message not authorized');
    session.abandon(this.connId);
  }

  /**
   * CONNACK 0x00 with the negotiated settings, then the session takes the
   * transport. A CONNACK that cannot be made to fit the client's Maximum
   * Packet Size [MQTT-3.1.2-24] is not sent: the CONNECT is refused with
   * 0x95 Packet too large instead.
   */
  private accept(session: RegisteringSession, will: Will | undefined): void {
    const { dir, connect, open, connId, v5 } = this;
    const { config } = dir;
    const registration = this.registration!;
    const { limits } = registration;
    const { clientId } = registration.subscriberId;
    const sessionExpiry = registration.sessionExpiry ?? sessionExpiryFor(config, connect, registration.cleanStart);
    const askedKeepalive = connect.keepalive ?? 0;
    const keepalive = v5 && (askedKeepalive === 0 || askedKeepalive > config.maxKeepalive) ? config.maxKeepalive : askedKeepalive;
    const clientMax = connect.properties?.maximumPacketSize ?? 0;
    const maxOutgoingPacketSize = minLimit(config.maxOutgoingPacketSize, clientMax);
    const sessionPresent = this.sessionPresent;
    const connack: mqttPacket.IConnackPacket = { cmd: 'connack', sessionPresent };
    if (v5) {
      connack.reasonCode = ReasonCode.Success;
      connack.properties = connackProperties(
        config,
        connect,
        limits,
        sessionExpiry,
        open.clientIdAssigned ? clientId : undefined,
        keepalive !== askedKeepalive ? keepalive : undefined,
      );
      const extra = registration.connackProperties;
      if (extra?.reasonString !== undefined) connack.properties.reasonString = extra.reasonString;
      if (extra?.userProperties !== undefined) connack.properties.userProperties = extra.userProperties;
      if (this.authenticated) {
        connack.properties.authenticationMethod = this.authenticated.method;
        if (this.authenticated.data !== undefined) connack.properties.authenticationData = this.authenticated.data;
      }
    } else {
      connack.returnCode = ConnackReturnCode.Accepted;
    }
    const connackBytes = v5 ? generateConnack(connack, maxOutgoingPacketSize) : generatePacket(connack, connect.protocolVersion ?? 4);
    if (connackBytes === undefined) {
      this.refuse(ReasonCode.PacketTooLarge, "CONNACK exceeds the client's Maximum Packet Size [MQTT-3.1.2-24]");
      session.abandon(connId);
      return;
    }
    const packetLimit = limits.maxIncomingPacketSize !== config.maxIncomingPacketSize ? limits.maxIncomingPacketSize : 0;
    session.attach({
      connId,
      transport: open.transport,
      transportOptions: this.opts,
      negotiated: {
        protocolVersion: connect.protocolVersion ?? 4,
        keepalive,
        maxOutgoingPacketSize,
        topicAliasMaximum: v5 ? (connect.properties?.topicAliasMaximum ?? 0) : 0,
        requestProblemInformation: connect.properties?.requestProblemInformation !== false,
      },
      receiveMaximum: connect.properties?.receiveMaximum ?? 65535,
      limits,
      username: connect.username,
      sessionExpiry,
      will,
      auth: this.authenticated ? { method: this.authenticated.method, username: connect.username, exchange: undefined } : undefined,
      userContext: this.answer!.userContext,
      connack: connackBytes,
      maxIncomingPacketSize: packetLimit,
      sessionPresent,
    });
    dir.established(connId, session.sid);
  }

  /** `next(value)` while the connection still waits for its CONNACK; otherwise the registration is abandoned. */
  private whileConnecting<T>(value: MaybePromise<T>, next: (v: T) => MaybePromise<void>): MaybePromise<void> {
    return andThen(value, (v) => (this.dir.isConnecting(this.connId) ? next(v) : this.abandon()));
  }

  /** Every caller runs while the connection waits for its CONNACK. */
  private refuse(code: number, reason: string, serverReference?: string): void {
    refuseConnect(this.dir, this.open, this.connect, code, reason, serverReference);
  }

  /** The connection went away (or was refused) after the session was attached: the session is offline again. */
  private abandon(): void {
    this.dir.endRaw(this.connId);
    this.session?.abandon(this.connId);
  }

  /** A hook's continuation threw: the connection is closed without CONNACK. */
  failed(err: unknown): void {
    this.dir.log.error({ err, connId: this.connId }, 'CONNECT registration failed');
    this.abandon();
  }
}

function sessionExpiryFor(config: BrokerConfig, connect: mqttPacket.IConnectPacket, cleanStart: boolean): number {
  if (connect.protocolVersion === 5) {
    return Math.min(connect.properties?.sessionExpiryInterval ?? 0, config.maxSessionExpiryInterval);
  }
  return cleanStart ? 0 : config.persistentSessionExpiry;
}

function willFrom(will: NonNullable<mqttPacket.IConnectPacket['will']>, v5: boolean): Will {
  const payload = Buffer.from(will.payload);
  const message: AppMessage = { topic: will.topic, payload, qos: will.qos ?? 0, retain: will.retain === true };
  let delaySeconds = 0;
  if (v5 && will.properties) {
    const { willDelayInterval, messageExpiryInterval, ...rest } = will.properties;
    delaySeconds = willDelayInterval ?? 0;
    if (messageExpiryInterval !== undefined) message.expiresAt = expiryDeadline(messageExpiryInterval, Date.now(), delaySeconds);
    if (Object.keys(rest).length > 0) message.properties = rest as MessageProperties;
  }
  return { message, delaySeconds };
}

/** CONNACK properties: the session's limits (plugin modifiers included) and what the client must be told. */
function connackProperties(
  config: BrokerConfig,
  connect: mqttPacket.IConnectPacket,
  limits: SessionLimits,
  sessionExpiry: number,
  assignedClientId: string | undefined,
  serverKeepAlive: number | undefined,
): NonNullable<mqttPacket.IConnackPacket['properties']> {
  const props: NonNullable<mqttPacket.IConnackPacket['properties']> = {
    receiveMaximum: limits.receiveMaximum,
    maximumPacketSize: limits.maxIncomingPacketSize,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
    topicAliasMaximum: limits.topicAliasMaximum,
  };
  if (assignedClientId !== undefined) props.assignedClientIdentifier = assignedClientId;
  if (connect.properties?.requestResponseInformation === true && config.responseInformation !== '') {
    props.responseInformation = config.responseInformation; // [MQTT-3.1.2-28]
  }
  if (serverKeepAlive !== undefined) props.serverKeepAlive = serverKeepAlive;
  if ((connect.properties?.sessionExpiryInterval ?? 0) !== sessionExpiry) props.sessionExpiryInterval = sessionExpiry;
  return props;
}
