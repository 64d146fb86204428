/**
 * Messages that outlive the batch they arrived in: a copy whose payload owns
 * its memory (a payload read from a batch is a view into it, and keeping the
 * view would pin the whole batch), and the Buffers of a message whose bytes
 * came back as plain Uint8Arrays (structured clone, msgpack). Used on every
 * thread.
 */
import type { AppMessage } from './app-message.js';

/** `message` with a payload of its own; everything else is shared (a kept message is never changed in place). */
export function ownedCopy(message: AppMessage): AppMessage {
  const payload = Buffer.allocUnsafe(message.payload.length);
  message.payload.copy(payload);
  const copy: AppMessage = { topic: message.topic, payload, qos: message.qos, retain: message.retain };
  if (message.properties) copy.properties = message.properties;
  if (message.expiresAt !== undefined) copy.expiresAt = message.expiresAt;
  if (message.origin !== undefined) copy.origin = message.origin;
  return copy;
}

/** `bytes` as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `message` with its payload and correlation data as Buffers, which the codecs want; the same object when they already are. */
export function withBuffers(message: AppMessage): AppMessage {
  const correlationData = message.properties?.correlationData;
  if (Buffer.isBuffer(message.payload) && (correlationData === undefined || Buffer.isBuffer(correlationData))) return message;
  const restored: AppMessage = { ...message, payload: asBuffer(message.payload) };
  if (correlationData !== undefined) restored.properties = { ...message.properties, correlationData: asBuffer(correlationData) };
  return restored;
}
