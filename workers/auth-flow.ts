/**
 * MQTT 5.0 enhanced authentication (spec 4.12): the `Authenticator`
 * interface that decides, and the AUTH packet exchanges around it, at CONNECT
 * (before CONNACK) and for re-authentication on a connected session. Without
 * an authenticator every Authentication Method is refused (0x8C).
 * Runs wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../src/codec/protocol-error.js';
import { ReasonCode } from '../src/codec/reason-codes.js';
import { generatePacket, parsePacket } from '../src/codec/packet-io.js';
import type { SessionActor } from './session-actor.js';

/** The outcome of one step of an exchange. */
export type AuthStep =
  | { outcome: 'continue'; data?: Buffer }
  | { outcome: 'success'; data?: Buffer }
  /** Refused: CONNACK (at CONNECT) or DISCONNECT (re-authentication) with `reasonCode`, default 0x87 Not authorized. */
  | { outcome: 'failure'; reasonCode?: number; reasonString?: string };

/** One authentication exchange; it may keep its state between steps. */
export interface AuthExchange {
  /** Takes the client's Authentication Data (from CONNECT or AUTH) and decides. */
  step(data: Buffer | undefined): AuthStep;
}

export interface AuthRequest {
  method: string;
  clientId: string;
  username: string | undefined;
  /** True for a re-authentication (AUTH 0x19) on a connected session. */
  reauthentication: boolean;
  /** The session's pool. */
  pool: string;
  /** The runtime's user context of the session; undefined at CONNECT. */
  userContext: unknown;
}

export interface Authenticator {
  /** Starts an exchange for `request.method`; undefined when the method is not supported. */
  start(request: AuthRequest): AuthExchange | undefined;
}

/** The authentication state of one accepted connection that used an Authentication Method. */
export interface ConnectionAuth {
  method: string;
  username: string | undefined;
  /** The re-authentication in progress, if any. */
  exchange: AuthExchange | undefined;
}

/** What the CONNECT-time exchange does on its outcome; supplied by the connect handler. */
export interface ConnectAuthHandlers {
  accept(method: string, data: Buffer | undefined): void;
  refuse(reasonCode: number, reasonString: string): void;
  /** Writes an AUTH packet to the connection (no session yet). */
  sendAuth(bytes: Buffer): void;
  /** Closes the connection without a CONNACK (the client sent DISCONNECT). */
  close(): void;
}

/** An exchange between CONNECT and CONNACK. */
export class ConnectAuth {
  constructor(
    private readonly method: string,
    private readonly exchange: AuthExchange,
    private readonly handlers: ConnectAuthHandlers,
  ) {}

  /** One step with the client's data; true while the exchange goes on. */
  step(data: Buffer | undefined): boolean {
    const step = runStep(this.exchange, data);
    switch (step.outcome) {
      case 'continue':
        this.handlers.sendAuth(authPacket(ReasonCode.ContinueAuthentication, this.method, step.data));
        return true;
      case 'success':
        this.handlers.accept(this.method, step.data);
        return false;
      default:
        this.handlers.refuse(step.reasonCode ?? ReasonCode.NotAuthorized, step.reasonString ?? 'authentication failed');
        return false;
    }
  }

  /**
   * A packet from the client before CONNACK: AUTH 0x18 with the same method
   * goes on, DISCONNECT ends it, anything else is a Protocol Error
   * [MQTT-3.1.2-30]. True while the exchange goes on.
   */
  onPacket(bytes: Buffer): boolean {
    let packet: mqttPacket.Packet;
    try {
      packet = parsePacket(bytes, 5);
    } catch (err) {
      this.handlers.refuse(err instanceof ProtocolError ? err.reasonCode : ReasonCode.MalformedPacket, 'malformed packet during authentication');
      return false;
    }
    if (packet.cmd === 'disconnect') {
      this.handlers.close();
      return false;
    }
    if (packet.cmd !== 'auth') {
      this.handlers.refuse(ReasonCode.ProtocolError, `${packet.cmd} before CONNACK during authentication [MQTT-3.1.2-30]`);
      return false;
    }
    if (packet.reasonCode !== ReasonCode.ContinueAuthentication || packet.properties?.authenticationMethod !== this.method) {
      this.handlers.refuse(ReasonCode.ProtocolError, 'AUTH must continue (0x18) with the CONNECT Authentication Method [MQTT-4.12.0-5]');
      return false;
    }
    return this.step(packet.properties.authenticationData);
  }
}

/**
 * AUTH from a connected client: starts (0x19) or continues (0x18) a
 * re-authentication with the method of its CONNECT [MQTT-4.12.1-1]. Every
 * violation, and a failed re-authentication [MQTT-4.12.1-2], is a
 * ProtocolError that disconnects.
 */
export function handleAuth(session: SessionActor, packet: mqttPacket.IAuthPacket): void {
  const auth = session.auth;
  if (!auth) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH on a connection without an Authentication Method [MQTT-4.12.0-7]');
  const method = packet.properties?.authenticationMethod;
  if (method !== auth.method) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH with another Authentication Method [MQTT-4.12.1-1]');
  if (packet.reasonCode === ReasonCode.ReAuthenticate) {
    if (auth.exchange) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH 0x19 while a re-authentication is in progress');
    const request = { method, clientId: session.clientId, username: auth.username, reauthentication: true, pool: session.pool, userContext: session.userContext };
    auth.exchange = session.env.authenticator?.start(request);
    if (!auth.exchange) throw new ProtocolError(ReasonCode.BadAuthenticationMethod, `re-authentication with ${method} is not supported`);
  } else if (packet.reasonCode !== ReasonCode.ContinueAuthentication || !auth.exchange) {
    throw new ProtocolError(ReasonCode.ProtocolError, `AUTH 0x${(packet.reasonCode ?? 0).toString(16)} out of sequence`);
  }
  const step = runStep(auth.exchange, packet.properties?.authenticationData);
  switch (step.outcome) {
    case 'continue':
      session.send(authPacket(ReasonCode.ContinueAuthentication, method, step.data));
      return;
    case 'success':
      auth.exchange = undefined;
      session.send(authPacket(ReasonCode.Success, method, step.data));
      return;
    default:
      throw new ProtocolError(step.reasonCode ?? ReasonCode.NotAuthorized, step.reasonString ?? 're-authentication failed');
  }
}

/** An authenticator that throws fails the step instead of the host. */
function runStep(exchange: AuthExchange, data: Buffer | undefined): AuthStep {
  try {
    return exchange.step(data);
  } catch {
    return { outcome: 'failure', reasonCode: ReasonCode.UnspecifiedError, reasonString: 'authenticator failed' };
  }
}

function authPacket(reasonCode: number, method: string, data: Buffer | undefined): Buffer {
  const properties: NonNullable<mqttPacket.IAuthPacket['properties']> = { authenticationMethod: method };
  if (data !== undefined) properties.authenticationData = data;
  return generatePacket({ cmd: 'auth', reasonCode, properties }, 5);
}
