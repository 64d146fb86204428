/**
 * What the cluster sends between nodes, as msgpack (msgpackr): a routed
 * message with the node it came from, a retained message as its key-value
 * bucket keeps it, and a session handed over from one node to another.
 * Byte fields come back as Buffers. Main thread.
 */
import { Packr } from 'msgpackr';
import type { AppMessage, MessageProperties, QoS } from '../../shared/message/app-message.js';
import { asBuffer, withBuffers } from '../../shared/message/owned.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Where a routed message comes from: the node, its run (a new one at each start) and its number in that run. */
export interface RoutedOrigin {
  node: string;
  run: string;
  seq: number;
}

/** A message routed in `pool` on one node, for the others. */
export function packRouted(pool: string, message: AppMessage, origin: RoutedOrigin): Buffer {
  const { topic, qos, retain, expiresAt, properties, payload } = message;
  const { node, run, seq } = origin;
  return packr.pack([pool, topic, qos, retain, expiresAt ?? null, properties ?? null, node, run, seq, payload]);
}

export function unpackRouted(bytes: Uint8Array): { pool: string; message: AppMessage; origin: RoutedOrigin } {
  const [pool, topic, qos, retain, expiresAt, properties, node, run, seq, payload] = packr.unpack(asBuffer(bytes)) as [
    string,
    string,
    QoS,
    boolean,
    number | null,
    MessageProperties | null,
    string,
    string,
    number,
    Uint8Array,
  ];
  return { pool, message: withBuffers(messageOf(topic, qos, retain, expiresAt, properties, payload)), origin: { node, run, seq } };
}

/** A retained message of `pool` as its bucket entry keeps it; an empty payload is the topic's cleared message. */
export function packRetained(pool: string, message: AppMessage): Buffer {
  const { topic, qos, expiresAt, properties, payload } = message;
  return packr.pack([pool, topic, qos, expiresAt ?? null, properties ?? null, payload]);
}

export function unpackRetained(bytes: Uint8Array): { pool: string; message: AppMessage } {
  const [pool, topic, qos, expiresAt, properties, payload] = packr.unpack(asBuffer(bytes)) as [
    string,
    string,
    QoS,
    number | null,
    MessageProperties | null,
    Uint8Array,
  ];
  return { pool, message: withBuffers(messageOf(topic, qos, true, expiresAt, properties, payload)) };
}

/** Any plain data (a session record, a handover request), Buffers included. */
export function packData(data: unknown): Buffer {
  return packr.pack(data);
}

export function unpackData<T>(bytes: Uint8Array): T {
  return packr.unpack(asBuffer(bytes)) as T;
}

function messageOf(
  topic: string,
  qos: QoS,
  retain: boolean,
  expiresAt: number | null,
  properties: MessageProperties | null,
  payload: Uint8Array,
): AppMessage {
  const message: AppMessage = { topic, payload: asBuffer(payload), qos, retain };
  if (expiresAt !== null) message.expiresAt = expiresAt;
  if (properties !== null) message.properties = properties;
  return message;
}
