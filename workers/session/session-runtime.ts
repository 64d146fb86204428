/**
 * What a session asks its runtime about the packets of its client:
 * is_valid_message before each packet after CONNECT is handled (false: a
 * Protocol Error, DISCONNECT 0x82 on 5.0, and the close), and
 * control_message for a QoS 0 PUBLISH to `$client/<own client id>/...`,
 * which is not routed and whose answer becomes the user context. An answer
 * given later holds the session's later packets, in order; a control_message
 * answer that comes after its connection was replaced is dropped. What a
 * failing callback answers: host-runtime.ts. Runs wherever the actor host
 * runs.
 */
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { parsePacket } from '../../src/shared/codec/packet-io.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { RuntimeContext } from './session-context.js';
import { isPromise, type MaybePromise } from '../../src/shared/async.js';

const CONTROL_PREFIX = '$client/';

/** The handler of a packet once it is valid (session-inbound.ts), given by the session so this module does not depend on it. */
export type PacketHandler<C extends RuntimeContext> = (session: C, bytes: Buffer) => MaybePromise<void>;

/** is_valid_message, then `handle` (the session calls this only for a runtime with its own is_valid_message). */
export function handleValidatedPacket<C extends RuntimeContext>(session: C, bytes: Buffer, handle: PacketHandler<C>): MaybePromise<void> {
  const packet = parsePacket(bytes, session.protocolVersion);
  const valid = session.env.runtime.validMessage(packet, session.transportOptions!, session.userContext);
  if (!isPromise(valid)) return validated(session, valid, bytes, handle);
  const owned = Buffer.from(bytes); // the batch's bytes are not ours to keep
  return session.whenAnswered(valid, (ok) => validated(session, ok, owned, handle));
}

function validated<C extends RuntimeContext>(session: C, valid: boolean, bytes: Buffer, handle: PacketHandler<C>): MaybePromise<void> {
  if (valid !== true) throw new ProtocolError(ReasonCode.ProtocolError, 'message refused by the session runtime (is_valid_message)');
  return handle(session, bytes);
}

/** The `<rest>` of a topic `$client/<own client id>[/<rest>]`, or undefined for any other topic. */
export function controlTopicRest(session: RuntimeContext, topic: string): string | undefined {
  if (!topic.startsWith(CONTROL_PREFIX) || !topic.startsWith(session.clientId, CONTROL_PREFIX.length)) return undefined;
  const end = CONTROL_PREFIX.length + session.clientId.length;
  if (topic.length === end) return '';
  return topic.charCodeAt(end) === 0x2f ? topic.slice(end + 1) : undefined;
}

/**
 * control_message: its answer is the session's user context. An answer given
 * later is dropped when the connection that sent the message is gone by then
 * (a newer connection's user context stays).
 */
export function handleControlMessage(session: RuntimeContext, rest: string, message: AppMessage): MaybePromise<void> {
  const answer = session.env.runtime.controlMessage(rest, message, session.userContext);
  return session.whenAnswered(answer, (userContext) => session.adoptUserContext(userContext));
}
