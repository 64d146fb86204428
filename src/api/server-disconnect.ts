/**
 * The server-initiated DISCONNECTs the embedding application and module
 * plugins ask for (Broker.disconnectClient and a plugin's
 * PluginContext.disconnectClient, Broker.close with a Server Reference):
 * their options and their validation, with errors naming the option. Runs
 * on the main thread for the broker's methods, in an actor host for a
 * module plugin's.
 */
import { ReasonCode, SERVER_DISCONNECT_CODES } from '../shared/codec/reason-codes.js';
import type { ServerDisconnect, ServerRedirect } from '../shared/channel/host-control.js';

export interface DisconnectClientOptions {
  /** A reason code a server may send in DISCONNECT (spec 3.14.2.1); default 0x98 Administrative action. */
  reasonCode?: number;
  /** A Reason String for the client (5.0), left out when it would exceed the client's Maximum Packet Size. */
  reasonString?: string;
  /** Where the client should connect instead (5.0 Server Reference), usually with 0x9C or 0x9D. */
  serverReference?: string;
  /** The client's pool (mountpoint); default ''. */
  pool?: string;
}

export interface CloseOptions {
  /** Sent to every 5.0 client as its Server Reference, with 0x9C Use another server instead of 0x8B Server shutting down. */
  serverReference?: string;
  /** With `serverReference`: the move is permanent, 0x9D Server moved. */
  permanent?: boolean;
}

/** The validated DISCONNECT of `disconnectClient(clientId, options)`; throws a TypeError or RangeError naming the bad argument. */
export function serverDisconnect(clientId: unknown, options: DisconnectClientOptions): ServerDisconnect {
  if (typeof clientId !== 'string') throw new TypeError('disconnectClient: clientId must be a string');
  const { reasonCode = ReasonCode.AdministrativeAction, reasonString, serverReference } = options;
  if (!SERVER_DISCONNECT_CODES.has(reasonCode)) {
    throw new RangeError(
      `disconnectClient: reasonCode ${String(reasonCode)} is not a reason code a server may send in DISCONNECT (spec 3.14.2.1)`,
    );
  }
  checkString('disconnectClient', 'reasonString', reasonString);
  checkString('disconnectClient', 'serverReference', serverReference);
  checkString('disconnectClient', 'pool', options.pool, false);
  const request: ServerDisconnect = { reasonCode };
  if (reasonString !== undefined) request.reasonString = reasonString;
  if (serverReference !== undefined) request.serverReference = serverReference;
  return request;
}

/** The validated redirection of `close`, or undefined for a plain shutdown; throws a TypeError naming the bad option. */
export function serverRedirect(options: CloseOptions): ServerRedirect | undefined {
  const { serverReference, permanent } = options;
  checkString('close', 'serverReference', serverReference);
  if (permanent !== undefined && typeof permanent !== 'boolean') throw new TypeError('close: permanent must be a boolean');
  if (serverReference === undefined) {
    if (permanent) throw new TypeError('close: permanent needs a serverReference');
    return undefined;
  }
  if (serverReference === '') throw new TypeError('close: serverReference must not be empty');
  return { serverReference, permanent: permanent === true };
}

/** Longest UTF-8 Encoded String of MQTT, in bytes (spec 1.5.4). */
const MAX_STRING_BYTES = 65535;

/** `value`, when given, must be a string; a property of the packet (not the pool) must also be a valid MQTT string [MQTT-1.5.4-2]. */
function checkString(method: string, name: string, value: unknown, property = true): void {
  if (value === undefined) return;
  if (typeof value !== 'string') throw new TypeError(`${method}: ${name} must be a string`);
  if (property && (value.includes('\0') || Buffer.byteLength(value) > MAX_STRING_BYTES)) {
    throw new TypeError(`${method}: ${name} must be at most ${MAX_STRING_BYTES} bytes of UTF-8 without U+0000`);
  }
}
