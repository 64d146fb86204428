/**
 * mqtt-packet behind one small surface for the actor host: parse one whole
 * control packet, and generate the packets the hand codec does not cover
 * (CONNACK, SUBACK, UNSUBACK, DISCONNECT, PINGRESP, AUTH), with or without
 * a Reason String.
 * Runs wherever the actor host runs (a worker, or the main thread).
 */
import mqttPacket from 'mqtt-packet';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';
import { validateClientPacket } from './validate.js';

export type Packet = mqttPacket.Packet;

/** Parses exactly one whole packet; throws ProtocolError 0x81 when mqtt-packet or validateClientPacket rejects it. */
export function parsePacket(bytes: Buffer, protocolVersion: number): Packet {
  const parser = mqttPacket.parser({ protocolVersion: protocolVersion as 3 | 4 | 5 });
  let packet: Packet | undefined;
  let error: Error | undefined;
  parser.on('packet', (p: Packet) => { packet ??= p; });
  parser.on('error', (e: Error) => { error ??= e; });
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
 * Generates a 5.0 packet with `reasonString` among its properties, or without
 * it when `reasonString` is undefined or would take the packet over
 * `maxPacketSize` (0 = no limit) [MQTT-3.1.2-24].
 */
export function generateWithReason(packet: Packet, reasonString: string | undefined, maxPacketSize: number): Buffer {
  if (reasonString !== undefined) {
    const { properties } = packet as { properties?: Record<string, unknown> };
    const bytes = generatePacket({ ...packet, properties: { ...properties, reasonString } } as Packet, 5);
    if (maxPacketSize === 0 || bytes.length <= maxPacketSize) return bytes;
  }
  return generatePacket(packet, 5);
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);
