/**
 * The estimated heap bytes of an application message that the broker keeps
 * (a retained message, a queued one): its topic as a JS string (2 bytes per
 * UTF-16 unit), its payload bytes, and its 5.0 properties' strings and
 * buffers plus a fixed cost for the properties object. Object headers of the
 * holder are added by each holder. Plain function; used on every thread.
 */
import type { AppMessage } from './app-message.js';

/** Estimated bytes of a properties object before its strings and buffers. */
const PROPERTIES_OVERHEAD_BYTES = 64;

export function messageBytes(msg: AppMessage): number {
  let bytes = msg.topic.length * 2 + msg.payload.length;
  const p = msg.properties;
  if (p !== undefined) {
    bytes += PROPERTIES_OVERHEAD_BYTES;
    bytes += ((p.contentType?.length ?? 0) + (p.responseTopic?.length ?? 0)) * 2;
    bytes += p.correlationData?.length ?? 0;
    for (const [name, value] of Object.entries(p.userProperties ?? {})) {
      bytes += name.length * 2;
      if (typeof value === 'string') bytes += value.length * 2;
      else for (const v of value) bytes += v.length * 2;
    }
  }
  return bytes;
}
