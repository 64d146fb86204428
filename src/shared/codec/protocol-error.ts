/**
 * The one error type the codec and the session raise for a protocol violation.
 * It carries the MQTT 5.0 reason code; `workers/session/session-actor.ts` (and
 * src/main/net/connection.ts for framing errors) turns it into a DISCONNECT (5.0)
 * or a plain close (3.1.1). Used on every thread.
 */
export class ProtocolError extends Error {
  constructor(
    readonly reasonCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
