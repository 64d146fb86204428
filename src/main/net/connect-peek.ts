/**
 * Reads just enough of a CONNECT packet (variable header and client id) for the
 * main thread to place the session on a worker; the worker decodes and
 * validates the whole packet. Main thread.
 */
import { readRemainingLength } from '../../shared/codec/framer.js';
import { ProtocolError } from '../../shared/codec/protocol-error.js';
import { ReasonCode } from '../../shared/codec/reason-codes.js';

export interface PeekedConnect {
  protocolVersion: number;
  protocolName: string;
  clientId: string;
  cleanStart: boolean;
  keepalive: number;
}

function truncated(what: string): ProtocolError {
  return new ProtocolError(ReasonCode.MalformedPacket, `truncated CONNECT: ${what}`);
}

/** Peeks at a whole CONNECT packet; throws a MalformedPacket ProtocolError when it is truncated. */
export function peekConnect(packet: Buffer): PeekedConnect {
  const remaining = readRemainingLength(packet, 1);
  if (remaining === undefined) throw truncated('fixed header');
  let pos = 1 + remaining.bytes;
  const end = Math.min(packet.length, pos + remaining.value);

  if (pos + 2 > end) throw truncated('protocol name');
  const nameEnd = pos + 2 + packet.readUInt16BE(pos);
  // Protocol name, then protocol level, connect flags and keep alive (4 bytes).
  if (nameEnd + 4 > end) throw truncated('variable header');
  const protocolName = packet.toString('utf8', pos + 2, nameEnd);
  const protocolVersion = packet[nameEnd]!;
  const cleanStart = (packet[nameEnd + 1]! & 0x02) !== 0;
  const keepalive = packet.readUInt16BE(nameEnd + 2);
  pos = nameEnd + 4;

  if (protocolVersion === 5) {
    const propertyLength = readRemainingLength(packet.subarray(0, end), pos);
    if (propertyLength === undefined) throw truncated('property length');
    pos += propertyLength.bytes + propertyLength.value;
  }

  if (pos + 2 > end) throw truncated('client identifier');
  const clientIdEnd = pos + 2 + packet.readUInt16BE(pos);
  if (clientIdEnd > end) throw truncated('client identifier');
  const clientId = packet.toString('utf8', pos + 2, clientIdEnd);

  return { protocolVersion, protocolName, clientId, cleanStart, keepalive };
}
