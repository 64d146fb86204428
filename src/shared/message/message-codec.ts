/**
 * The binary form of an application message: how frames carry it between
 * threads (src/shared/channel/frames.ts) and how a stored session keeps its
 * messages (workers/session/lmdb-session-messages.ts). Flags byte (QoS,
 * retain, which optional parts follow), topic, payload, then the 5.0
 * properties as JSON, the expiry, the QoS 2 publish id. Used on every thread.
 */
import type { BatchReader } from '../channel/batch-reader.js';
import type { BatchWriter } from '../channel/batch-writer.js';
import type { AppMessage, MessageProperties, QoS } from './app-message.js';

const F_RETAIN = 4,
  F_PROPS = 8,
  F_EXPIRY = 16,
  F_QOS2_ID = 32,
  F_RESENT = 64;

/** An application message in the frames' binary form (also how a stored session's messages are kept). */
export function writeAppMessage(w: BatchWriter, m: AppMessage): void {
  const hasProps = m.properties !== undefined;
  const hasExpiry = m.expiresAt !== undefined;
  const hasId = m.qos2Id !== undefined;
  w.u8(
    m.qos |
      (m.retain ? F_RETAIN : 0) |
      (hasProps ? F_PROPS : 0) |
      (hasExpiry ? F_EXPIRY : 0) |
      (hasId ? F_QOS2_ID : 0) |
      (m.resent ? F_RESENT : 0),
  );
  w.str(m.topic);
  w.bytes(m.payload);
  if (hasProps) w.str(encodeProperties(m.properties as MessageProperties));
  if (hasExpiry) w.f64(m.expiresAt as number);
  if (hasId) w.str(m.qos2Id as string);
}

export function readAppMessage(r: BatchReader): AppMessage {
  const flags = r.u8();
  const message: AppMessage = { qos: (flags & 3) as QoS, retain: (flags & F_RETAIN) !== 0, topic: r.str(), payload: r.bytes() };
  if (flags & F_PROPS) message.properties = decodeProperties(r.str());
  if (flags & F_EXPIRY) message.expiresAt = r.f64();
  if (flags & F_QOS2_ID) message.qos2Id = r.str();
  if (flags & F_RESENT) message.resent = true;
  return message;
}

function encodeProperties(p: MessageProperties): string {
  if (p.correlationData === undefined) return JSON.stringify(p);
  return JSON.stringify({ ...p, correlationData: p.correlationData.toString('base64') });
}

function decodeProperties(json: string): MessageProperties {
  const p = JSON.parse(json) as MessageProperties & { correlationData?: string };
  if (typeof p.correlationData === 'string') {
    return { ...p, correlationData: Buffer.from(p.correlationData, 'base64') };
  }
  return p as MessageProperties;
}
