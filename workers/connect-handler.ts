/**
 * CONNECT on a new transport: parse and validate it, run the enhanced
 * authentication exchange when it names an Authentication Method, create,
 * resume or take over the session of its client id, and answer with CONNACK.
 * Refusals get the right CONNACK code (and a Reason String on 5.0) and a
 * close. Runs wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import type { AppMessage, MessageProperties } from '../src/app-message.js';
import { ProtocolError } from '../src/codec/protocol-error.js';
import { ConnackReturnCode, connackCodeForV3, ReasonCode } from '../src/codec/reason-codes.js';
import type { BrokerConfig } from '../src/config.js';
import type { ToSession } from '../src/messages.js';
import { isValidTopicName } from '../src/router/topic.js';
import { ConnectAuth, type Authenticator } from './auth-flow.js';
import { generatePacket, generateWithReason, parsePacket } from './packet-io.js';
import type { SessionActor, Will } from './session-actor.js';

/** What the connect handler needs from its actor host. */
export interface SessionDirectory {
  readonly config: BrokerConfig;
  readonly authenticator: Authenticator | undefined;
  find(pool: string, clientId: string): SessionActor | undefined;
  create(pool: string, clientId: string): SessionActor;
  bind(connId: number, session: SessionActor): void;
  sendRaw(connId: number, bytes: Buffer): void;
  endRaw(connId: number): void;
  /** Keeps a CONNECT waiting for its authentication exchange: the packets of `connId` go to `auth` until it settles. */
  pendAuth(connId: number, auth: ConnectAuth): void;
}

interface Refusal { code: number; reason: string }

/** The outcome of a successful enhanced authentication, echoed in CONNACK [MQTT-4.12.0-5]. */
interface Authenticated { method: string; data: Buffer | undefined }

const DEFAULT_POOL = '';

type OpenFrame = Extract<ToSession, { kind: 'open' }>;

export function handleConnect(dir: SessionDirectory, open: OpenFrame): void {
  const version = protocolLevel(open.packet);
  let connect: mqttPacket.IConnectPacket;
  try {
    const parsed = parsePacket(open.packet, version);
    if (parsed.cmd !== 'connect') throw new ProtocolError(ReasonCode.ProtocolError, 'first packet is not CONNECT [MQTT-3.1.0-1]');
    connect = parsed;
  } catch (err) {
    const code = err instanceof ProtocolError ? err.reasonCode : ReasonCode.MalformedPacket;
    return refuse(dir, open.connId, version === 5 ? 5 : 4, code, err instanceof Error ? err.message : 'malformed CONNECT', 0);
  }
  const v = connect.protocolVersion ?? 4;
  const maxPacketSize = connect.properties?.maximumPacketSize ?? 0;
  const refusal = validate(dir.config, connect, open.clientIdAssigned);
  if (refusal !== undefined) return refuse(dir, open.connId, v, refusal.code, refusal.reason, maxPacketSize);
  const method = v === 5 ? connect.properties?.authenticationMethod : undefined;
  if (method === undefined) {
    if (!dir.config.allowAnonymous) return refuse(dir, open.connId, v, ReasonCode.NotAuthorized, 'anonymous clients are not allowed', maxPacketSize);
    return accept(dir, open, connect, undefined);
  }
  const exchange = dir.authenticator?.start({ method, clientId: open.clientId, username: connect.username, reauthentication: false });
  if (!exchange) {
    return refuse(dir, open.connId, 5, ReasonCode.BadAuthenticationMethod, `Authentication Method ${method} is not supported [MQTT-4.12.0-1]`, maxPacketSize);
  }
  const auth = new ConnectAuth(method, exchange, {
    accept: (m, data) => accept(dir, open, connect, { method: m, data }),
    refuse: (code, reason) => refuse(dir, open.connId, 5, code, reason, maxPacketSize),
    sendAuth: (bytes) => dir.sendRaw(open.connId, bytes),
    close: () => dir.endRaw(open.connId),
  });
  if (auth.step(connect.properties?.authenticationData)) dir.pendAuth(open.connId, auth);
}

/** Creates, resumes or takes over the session, and answers CONNACK 0x00. */
function accept(dir: SessionDirectory, open: OpenFrame, connect: mqttPacket.IConnectPacket, authenticated: Authenticated | undefined): void {
  const v = connect.protocolVersion ?? 4;
  const clientId = open.clientId;
  let session = dir.find(DEFAULT_POOL, clientId);
  if (session?.connected) {
    session.closeTransport(ReasonCode.SessionTakenOver); // [MQTT-3.1.4-3]
    session = dir.find(DEFAULT_POOL, clientId);
  }
  const cleanStart = connect.clean !== false;
  if (session && cleanStart) {
    session.end();
    session = undefined;
  }
  const sessionPresent = session !== undefined;
  session ??= dir.create(DEFAULT_POOL, clientId);
  session.sessionExpiry = sessionExpiryFor(dir.config, connect);
  session.will = connect.will ? willFrom(connect.will, v) : undefined;

  const { config } = dir;
  const askedKeepalive = connect.keepalive ?? 0;
  const keepalive = v === 5 && (askedKeepalive === 0 || askedKeepalive > config.maxKeepalive) ? config.maxKeepalive : askedKeepalive;
  const clientMax = connect.properties?.maximumPacketSize ?? 0;
  const maxOutgoingPacketSize = minLimit(config.maxOutgoingPacketSize, clientMax);

  dir.bind(open.connId, session);
  const connack: mqttPacket.IConnackPacket = { cmd: 'connack', sessionPresent };
  if (v === 5) {
    connack.reasonCode = ReasonCode.Success;
    connack.properties = connackProperties(config, connect, open.clientIdAssigned ? clientId : undefined, keepalive !== askedKeepalive ? keepalive : undefined, session.sessionExpiry);
    if (authenticated) {
      connack.properties.authenticationMethod = authenticated.method;
      if (authenticated.data !== undefined) connack.properties.authenticationData = authenticated.data;
    }
  } else {
    connack.returnCode = ConnackReturnCode.Accepted;
  }
  session.negotiated = {
    protocolVersion: v,
    keepalive,
    maxOutgoingPacketSize,
    topicAliasMaximum: v === 5 ? connect.properties?.topicAliasMaximum ?? 0 : 0,
    requestProblemInformation: connect.properties?.requestProblemInformation !== false,
  };
  session.auth = authenticated ? { method: authenticated.method, username: connect.username, exchange: undefined } : undefined;
  session.connId = open.connId;
  session.send(generatePacket(connack, v));
  session.env.link.accepted(open.connId, keepalive);
  session.attach(open.connId, open.transport, session.negotiated, connect.properties?.receiveMaximum ?? 65535);
  session.env.link.event('client-connected', clientId, { sessionPresent, protocolVersion: v, transport: open.transport.type, remoteAddress: open.transport.remoteAddress, remotePort: open.transport.remotePort });
}

/** The protocol level byte of a CONNECT: 3 (MQIsdp), 4 (3.1.1) or 5. */
function protocolLevel(packet: Buffer): number {
  let i = 1;
  while (i < 5 && ((packet[i] as number) & 0x80) !== 0) i++;
  const nameLength = packet.length > i + 2 ? packet.readUInt16BE(i + 1) : 0;
  return (packet[i + 3 + nameLength] as number | undefined) ?? 4;
}

function validate(config: BrokerConfig, connect: mqttPacket.IConnectPacket, assigned: boolean): Refusal | undefined {
  const v = connect.protocolVersion ?? 4;
  if (assigned && connect.clean === false && v !== 5) {
    return { code: ReasonCode.ClientIdentifierNotValid, reason: 'an empty client id needs clean session [MQTT-3.1.3-8]' };
  }
  if (connect.clientId.length > config.maxClientIdLength) {
    return { code: ReasonCode.ClientIdentifierNotValid, reason: `client id longer than ${config.maxClientIdLength} characters` };
  }
  if (connect.will && !isValidTopicName(connect.will.topic)) {
    return { code: v === 5 ? ReasonCode.TopicNameInvalid : ReasonCode.MalformedPacket, reason: 'invalid will topic' };
  }
  return undefined;
}

/** CONNACK with a refusal code (a Reason String on 5.0), then close; a malformed 3.1.1 CONNECT is just closed. */
function refuse(dir: SessionDirectory, connId: number, version: number, reasonCode: number, reason: string, maxPacketSize: number): void {
  if (version === 5) {
    dir.sendRaw(connId, generateWithReason({ cmd: 'connack', sessionPresent: false, reasonCode }, reason, maxPacketSize));
  } else if (reasonCode !== ReasonCode.MalformedPacket) {
    dir.sendRaw(connId, generatePacket({ cmd: 'connack', sessionPresent: false, returnCode: connackCodeForV3(reasonCode) }, version));
  }
  dir.endRaw(connId);
}

function sessionExpiryFor(config: BrokerConfig, connect: mqttPacket.IConnectPacket): number {
  if (connect.protocolVersion === 5) {
    return Math.min(connect.properties?.sessionExpiryInterval ?? 0, config.maxSessionExpiryInterval);
  }
  return connect.clean === false ? config.persistentSessionExpiry : 0;
}

function willFrom(will: NonNullable<mqttPacket.IConnectPacket['will']>, version: number): Will {
  const payload = Buffer.from(will.payload);
  const message: AppMessage = { topic: will.topic, payload, qos: will.qos ?? 0, retain: will.retain === true };
  let delaySeconds = 0;
  if (version === 5 && will.properties) {
    const { willDelayInterval, messageExpiryInterval, ...rest } = will.properties;
    delaySeconds = willDelayInterval ?? 0;
    if (messageExpiryInterval !== undefined) message.expiresAt = Date.now() + (delaySeconds + messageExpiryInterval) * 1000;
    if (Object.keys(rest).length > 0) message.properties = rest as MessageProperties;
  }
  return { message, delaySeconds };
}

function connackProperties(
  config: BrokerConfig, connect: mqttPacket.IConnectPacket, assignedClientId: string | undefined,
  serverKeepAlive: number | undefined, sessionExpiry: number,
): NonNullable<mqttPacket.IConnackPacket['properties']> {
  const props: NonNullable<mqttPacket.IConnackPacket['properties']> = {
    receiveMaximum: config.receiveMaximum,
    maximumPacketSize: config.maxIncomingPacketSize,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
    topicAliasMaximum: config.topicAliasMaximum,
  };
  if (assignedClientId !== undefined) props.assignedClientIdentifier = assignedClientId;
  if (connect.properties?.requestResponseInformation === true && config.responseInformation !== '') {
    props.responseInformation = config.responseInformation; // [MQTT-3.1.2-28]
  }
  if (serverKeepAlive !== undefined) props.serverKeepAlive = serverKeepAlive;
  if ((connect.properties?.sessionExpiryInterval ?? 0) !== sessionExpiry) props.sessionExpiryInterval = sessionExpiry;
  return props;
}

function minLimit(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}
