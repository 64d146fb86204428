/**
 * Why a client's connection closed, as the 'client-disconnected' event and
 * the `client disconnected` log line tell it: one of a small bounded set,
 * and the cause of a close the main thread saw, derived here alone. Plain
 * data and a pure function; used on every thread.
 */
import { ReasonCode } from './codec/reason-codes.js';

/**
 * `client-disconnect`: the client sent DISCONNECT; `keepalive`: it sent
 * nothing for 1.5 × its keepalive; `takeover`: another connection took the
 * session; `protocol-error`: it broke the protocol (bad framing, a malformed
 * or forbidden packet); `server-shutdown`: the broker closed; `server-disconnect`:
 * the broker ended it on its own account (broker.disconnectClient, a plugin
 * or the runtime, a failed re-authentication, a message it could not store);
 * `connection-lost`: the transport closed or failed under the session.
 */
export const DISCONNECT_CAUSES = [
  'client-disconnect',
  'keepalive',
  'takeover',
  'protocol-error',
  'server-shutdown',
  'server-disconnect',
  'connection-lost',
] as const;

export type DisconnectCause = (typeof DISCONNECT_CAUSES)[number];

/**
 * The cause of a close on the main thread, from the DISCONNECT reason code it
 * closed the connection with (0 when it did not: the transport closed or
 * failed by itself): 0x8D is the keepalive, 0x83 a message it could not send,
 * any other code a framing error of the client.
 */
export function closeCause(reasonCode: number): DisconnectCause {
  switch (reasonCode) {
    case 0:
      return 'connection-lost';
    case ReasonCode.KeepAliveTimeout:
      return 'keepalive';
    case ReasonCode.ImplementationSpecificError:
      return 'server-disconnect';
    default:
      return 'protocol-error';
  }
}
