/**
 * MQTT 5.0 enhanced authentication (spec 4.12): the AUTH packet exchanges
 * around the `Authenticator` (authenticator.ts), at CONNECT
 * (before CONNACK) and for re-authentication on a connected session. A step
 * may be decided at once or with a promise: at CONNECT the connection waits
 * for it (a packet other than DISCONNECT meanwhile is a Protocol Error, as
 * the client must wait for the server's answer); on a connected session the
 * other packets go on meanwhile, and a second AUTH is a Protocol Error. A
 * connection that closes meanwhile gets nothing. Without an authenticator
 * every Authentication Method is refused (0x8C).
 * Runs wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { generateWithReason, parsePacket } from '../../src/shared/codec/packet-io.js';
import type { ReauthContext } from '../session/session-context.js';
import { isPromise } from '../../src/shared/async.js';
import type { AuthExchange, AuthStep, ConnectionAuth } from './authenticator.js';

/** What the CONNECT-time exchange does on its outcome; supplied by the connect handler. */
export interface ConnectAuthHandlers {
  accept(method: string, data: Buffer | undefined): void;
  refuse(reasonCode: number, reasonString: string, serverReference?: string): void;
  /** Writes an AUTH packet to the connection (no session yet). */
  sendAuth(bytes: Buffer): void;
  /** Closes the connection without a CONNACK (the client sent DISCONNECT). */
  close(): void;
  /** Acting on a step the authenticator decided later threw: the connection is closed without a CONNACK. */
  failed(err: unknown): void;
}

/** An exchange between CONNECT and CONNACK. */
export class ConnectAuth {
  private state: 'ready' | 'deciding' | 'done' = 'ready';

  constructor(
    private readonly method: string,
    private readonly exchange: AuthExchange,
    private readonly handlers: ConnectAuthHandlers,
    /** The client's Maximum Packet Size (0 = none): an AUTH over it cannot be sent, and the CONNECT is refused with 0x95. */
    private readonly maxPacketSize: number,
  ) {}

  /** False once the exchange ended: accepted, refused, closed, or cancelled. */
  get active(): boolean {
    return this.state !== 'done';
  }

  /** The connection closed: whatever a pending step answers is dropped. */
  cancel(): void {
    this.state = 'done';
  }

  /** One step with the client's data, decided now or when the authenticator's promise settles. */
  step(data: Buffer | undefined): void {
    const step = runStep(this.exchange, data);
    if (!isPromise(step)) return this.decide(step);
    this.state = 'deciding';
    step
      .then((decided) => {
        if (this.state !== 'deciding') return;
        this.state = 'ready';
        this.decide(decided);
      })
      .catch((err: unknown) => {
        this.state = 'done';
        this.handlers.failed(err);
      });
  }

  private decide(step: AuthStep): void {
    if (step.outcome === 'continue') {
      const bytes = generateWithReason(
        authPacket(ReasonCode.ContinueAuthentication, this.method, step.data),
        undefined,
        this.maxPacketSize,
      );
      if (bytes) return this.handlers.sendAuth(bytes);
      return this.refuse(ReasonCode.PacketTooLarge, "AUTH exceeds the client's Maximum Packet Size [MQTT-3.1.2-24]");
    }
    this.state = 'done';
    if (step.outcome === 'success') this.handlers.accept(this.method, step.data);
    else
      this.handlers.refuse(step.reasonCode ?? ReasonCode.NotAuthorized, step.reasonString ?? 'authentication failed', step.serverReference);
  }

  private refuse(reasonCode: number, reasonString: string): void {
    this.state = 'done';
    this.handlers.refuse(reasonCode, reasonString);
  }

  /**
   * A packet from the client before CONNACK: AUTH 0x18 with the same method
   * goes on, DISCONNECT ends it, anything else is a Protocol Error
   * [MQTT-3.1.2-30], and so is an AUTH while the previous step is decided.
   */
  onPacket(bytes: Buffer): void {
    let packet: mqttPacket.Packet;
    try {
      packet = parsePacket(bytes, 5);
    } catch (err) {
      return this.refuse(
        err instanceof ProtocolError ? err.reasonCode : ReasonCode.MalformedPacket,
        'malformed packet during authentication',
      );
    }
    if (packet.cmd === 'disconnect') {
      this.state = 'done';
      return this.handlers.close();
    }
    if (packet.cmd !== 'auth')
      return this.refuse(ReasonCode.ProtocolError, `${packet.cmd} before CONNACK during authentication [MQTT-3.1.2-30]`);
    if (this.state === 'deciding') return this.refuse(ReasonCode.ProtocolError, 'AUTH before the server answered the previous one');
    if (packet.reasonCode !== ReasonCode.ContinueAuthentication || packet.properties?.authenticationMethod !== this.method) {
      return this.refuse(ReasonCode.ProtocolError, 'AUTH must continue (0x18) with the CONNECT Authentication Method [MQTT-4.12.0-5]');
    }
    this.step(packet.properties.authenticationData);
  }
}

/**
 * AUTH from a connected client: starts (0x19) or continues (0x18) a
 * re-authentication with the method of its CONNECT [MQTT-4.12.1-1]. Every
 * violation is a ProtocolError that disconnects; a failed re-authentication
 * [MQTT-4.12.1-2] disconnects with its reason code. A step the authenticator
 * answers with a promise is answered when it settles, unless the connection
 * is gone by then; the session serves its other packets meanwhile.
 */
export function handleAuth(session: ReauthContext, packet: mqttPacket.IAuthPacket): void {
  const auth = session.connectionAuth;
  if (!auth) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH on a connection without an Authentication Method [MQTT-4.12.0-7]');
  const method = packet.properties?.authenticationMethod;
  if (method !== auth.method) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH with another Authentication Method [MQTT-4.12.1-1]');
  if (auth.deciding) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH before the server answered the previous one');
  if (packet.reasonCode === ReasonCode.ReAuthenticate) {
    if (auth.exchange) throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH 0x19 while a re-authentication is in progress');
    const request = {
      method,
      clientId: session.clientId,
      username: auth.username,
      reauthentication: true,
      pool: session.pool,
      userContext: session.userContext,
    };
    auth.exchange = session.env.authenticator?.start(request);
    if (!auth.exchange) throw new ProtocolError(ReasonCode.BadAuthenticationMethod, `re-authentication with ${method} is not supported`);
  } else if (packet.reasonCode !== ReasonCode.ContinueAuthentication || !auth.exchange) {
    throw new ProtocolError(ReasonCode.ProtocolError, `AUTH 0x${(packet.reasonCode ?? 0).toString(16)} out of sequence`);
  }
  const step = runStep(auth.exchange, packet.properties?.authenticationData);
  if (!isPromise(step)) return reauthenticated(session, auth, step);
  auth.deciding = true;
  step
    .then((decided) => {
      if (session.connectionAuth !== auth) return; // the connection is gone
      auth.deciding = false;
      reauthenticated(session, auth, decided);
    })
    .catch((err: unknown) => {
      if (session.connectionAuth === auth) session.fail(err);
    });
}

function reauthenticated(session: ReauthContext, auth: ConnectionAuth, step: AuthStep): void {
  switch (step.outcome) {
    case 'continue':
      session.sendPacket(authPacket(ReasonCode.ContinueAuthentication, auth.method, step.data));
      return;
    case 'success':
      auth.exchange = undefined;
      session.sendPacket(authPacket(ReasonCode.Success, auth.method, step.data));
      return;
    default:
      session.closeTransport(step.reasonCode ?? ReasonCode.NotAuthorized, step.reasonString ?? 're-authentication failed');
  }
}

const FAILED: AuthStep = { outcome: 'failure', reasonCode: ReasonCode.UnspecifiedError, reasonString: 'authenticator failed' };

/** An authenticator that throws, or whose promise rejects, fails the step instead of the host. */
function runStep(exchange: AuthExchange, data: Buffer | undefined): AuthStep | Promise<AuthStep> {
  try {
    const step = exchange.step(data);
    return isPromise(step) ? step.then(undefined, () => FAILED) : step;
  } catch {
    return FAILED;
  }
}

function authPacket(reasonCode: number, method: string, data: Buffer | undefined): mqttPacket.IAuthPacket {
  const properties: NonNullable<mqttPacket.IAuthPacket['properties']> = { authenticationMethod: method };
  if (data !== undefined) properties.authenticationData = data;
  return { cmd: 'auth', reasonCode, properties };
}
