/**
 * mqtt-packet behind one small surface for the actor host: parse one whole
 * control packet, and generate the packets the hand codec does not cover
 * (CONNACK, SUBACK, UNSUBACK, DISCONNECT, PINGRESP, AUTH), with or without
 * a Reason String, within the client's Maximum Packet Size. The actor host
 * uses all of it; the main thread only the DISCONNECTs it writes itself
 * (keepalive timeout, oversized packet, bad framing). Any thread.
 */
import mqttPacket from 'mqtt-packet';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';
import { validateClientPacket } from './validate.js';

export type Packet = mqttPacket.Packet;

// On its first generate mqtt-packet would fill a table of 65,536 two-byte
// Buffers (about 6 MB of heap in every thread); the packets it generates here
// are off the hot path, so it writes their numbers as it goes.
mqttPacket.writeToStream.cacheNumbers = false;

/** Parses exactly one whole packet; throws ProtocolError 0x81 when mqtt-packet or validateClientPacket rejects it. */
export function parsePacket(bytes: Buffer, protocolVersion: number): Packet {
  const parser = mqttPacket.parser({ protocolVersion: protocolVersion as 3 | 4 | 5 });
  let packet: Packet | undefined;
  let error: Error | undefined;
  parser.on('packet', (p: Packet) => {
    packet ??= p;
  });
  parser.on('error', (e: Error) => {
    error ??= e;
  });
  parser.parse(bytes);
  if (error) throw new ProtocolError(protocolErrorCode(error.message), error.message);
  if (!packet) throw new ProtocolError(ReasonCode.MalformedPacket, 'truncated packet');
  // What mqtt-packet lets through: bad UTF-8, packet id 0, bodies where none belong, 5.0 properties not allowed or repeated.
  validateClientPacket(bytes, packet.cmd, protocolVersion);
  return packet;
}

/** mqtt-packet reports every problem as an Error; a few of them are protocol errors rather than malformed packets. */
function protocolErrorCode(message: string): number {
  if (/protocol ?id|protocol version/i.test(message)) return ReasonCode.UnsupportedProtocolVersion;
  return ReasonCode.MalformedPacket;
}

export function generatePacket(packet: Packet, protocolVersion: number): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: protocolVersion as 3 | 4 | 5 });
}

/**
 * Generates a 5.0 packet the server sends, within the client's
 * `maxPacketSize` (0 = no limit) [MQTT-3.1.2-24]: with `reasonString` among
 * its properties when given and it fits; else without its Reason String and
 * User Properties, which are the ones a sender leaves out to fit
 * ([MQTT-3.2.2-19] [MQTT-3.4.2-2] [MQTT-3.9.2-1] [MQTT-3.14.2-3] and the
 * like); undefined when even that is too large.
 */
export function generateWithReason(packet: Packet, reasonString: string | undefined, maxPacketSize: number): Buffer | undefined {
  const { properties } = packet as { properties?: Record<string, unknown> };
  if (reasonString !== undefined) {
    const bytes = generatePacket({ ...packet, properties: { ...properties, reasonString } } as Packet, 5);
    if (fits(bytes, maxPacketSize)) return bytes;
  }
  const bytes = generatePacket(packet, 5);
  if (fits(bytes, maxPacketSize)) return bytes;
  if (properties?.['reasonString'] === undefined && properties?.['userProperties'] === undefined) return undefined;
  const { reasonString: _reason, userProperties: _user, ...rest } = properties;
  const bare = generatePacket({ ...packet, properties: rest } as Packet, 5);
  return fits(bare, maxPacketSize) ? bare : undefined;
}

/**
 * A 5.0 DISCONNECT within the client's `maxPacketSize`: as generateWithReason,
 * then, when its Server Reference still does not fit, the bare reason code
 * (the client learns why, if not where to go); undefined when even that is
 * too large.
 */
export function generateDisconnect(
  disconnect: mqttPacket.IDisconnectPacket,
  reasonString: string | undefined,
  maxPacketSize: number,
): Buffer | undefined {
  const bytes = generateWithReason(disconnect, reasonString, maxPacketSize);
  if (bytes !== undefined || disconnect.properties?.serverReference === undefined) return bytes;
  const bare = generatePacket({ cmd: 'disconnect', reasonCode: disconnect.reasonCode }, 5);
  return fits(bare, maxPacketSize) ? bare : undefined;
}

/**
 * A 5.0 CONNACK within the client's `maxPacketSize`: when it is too large as
 * it is, the properties that restate their default (the availability flags
 * set to 1, Receive Maximum 65535, Topic Alias Maximum 0, Maximum Packet
 * Size 268435455) are left out, which tells the client the same; undefined
 * when it is still too large.
 */
export function generateConnack(connack: mqttPacket.IConnackPacket, maxPacketSize: number): Buffer | undefined {
  const full = generateWithReason(connack, undefined, maxPacketSize);
  if (full !== undefined || connack.properties === undefined) return full;
  const props = { ...connack.properties };
  for (const [key, value] of Object.entries(CONNACK_DEFAULTS)) {
    if (props[key as keyof typeof props] === value) delete props[key as keyof typeof props];
  }
  return generateWithReason({ ...connack, properties: props }, undefined, maxPacketSize);
}

const CONNACK_DEFAULTS = {
  retainAvailable: true,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  sharedSubscriptionAvailable: true,
  receiveMaximum: 65535,
  topicAliasMaximum: 0,
  maximumPacketSize: 268435455,
} as const;

function fits(bytes: Buffer, maxPacketSize: number): boolean {
  return maxPacketSize === 0 || bytes.length <= maxPacketSize;
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);
