/**
 * Checks mqtt-packet does not make on a client's non-PUBLISH packets, done on
 * the raw bytes: strict UTF-8 without U+0000 in every string field (client
 * id, will topic, user name, topic filters, string properties) [MQTT-1.5.4-1]
 * [MQTT-1.5.4-2], non-zero packet identifiers of SUBSCRIBE and UNSUBSCRIBE
 * [MQTT-2.2.1-3], empty PINGREQ, and on 5.0 property sections: only the
 * properties allowed for the packet, none twice but User Property, and a
 * section that ends where its length says (§2.2.2.2). Throws ProtocolError:
 * 0x81 Malformed Packet, or 0x82 Protocol Error for a repeated property.
 * Runs wherever the actor host runs.
 */
import { isUtf8 } from 'node:buffer';
import { readRemainingLength } from './framer.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';

const BYTE = [0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a];
const INT16 = [0x13, 0x21, 0x22, 0x23];
const INT32 = [0x02, 0x11, 0x18, 0x27];
const STRING = [0x03, 0x08, 0x12, 0x15, 0x1a, 0x1c, 0x1f];
const BINARY = [0x09, 0x16];
const USER_PROPERTY = 0x26;
const SUBSCRIPTION_ID = 0x0b;

/** Property identifiers allowed per packet (5.0, client to server). */
export const ALLOWED_PROPERTIES = {
  connect: new Set([0x11, 0x21, 0x27, 0x22, 0x19, 0x17, USER_PROPERTY, 0x15, 0x16]),
  will: new Set([0x18, 0x01, 0x02, 0x03, 0x08, 0x09, USER_PROPERTY]),
  ack: new Set([0x1f, USER_PROPERTY]),
  subscribe: new Set([SUBSCRIPTION_ID, USER_PROPERTY]),
  unsubscribe: new Set([USER_PROPERTY]),
  disconnect: new Set([0x11, 0x1f, USER_PROPERTY, 0x1c]),
  auth: new Set([0x15, 0x16, 0x1f, USER_PROPERTY]),
} as const;

function malformed(what: string): ProtocolError {
  return new ProtocolError(ReasonCode.MalformedPacket, what);
}

/** Offset of the variable header: after the type byte and the Remaining Length. */
function bodyStart(bytes: Buffer): number {
  const rl = readRemainingLength(bytes, 1);
  if (rl === undefined) throw malformed('truncated fixed header');
  return 1 + rl.bytes;
}

/** Reads a UTF-8 string field at `pos` (before `end`); returns the offset after it. */
function utf8Field(bytes: Buffer, pos: number, end: number, what: string): number {
  if (pos + 2 > end) throw malformed(`truncated ${what}`);
  const stop = pos + 2 + bytes.readUInt16BE(pos);
  if (stop > end) throw malformed(`truncated ${what}`);
  const value = bytes.subarray(pos + 2, stop);
  if (value.includes(0)) throw malformed(`${what} holds U+0000 [MQTT-1.5.4-2]`);
  if (!isUtf8(value)) throw malformed(`${what} is not valid UTF-8 [MQTT-1.5.4-1]`);
  return stop;
}

function binaryField(bytes: Buffer, pos: number, end: number, what: string): number {
  if (pos + 2 > end) throw malformed(`truncated ${what}`);
  const stop = pos + 2 + bytes.readUInt16BE(pos);
  if (stop > end) throw malformed(`truncated ${what}`);
  return stop;
}

/**
 * Checks the 5.0 property section at `pos` (its varint length first) against
 * `allowed`; returns the offset after the section.
 */
export function checkProperties(bytes: Buffer, pos: number, end: number, allowed: ReadonlySet<number>): number {
  const length = readRemainingLength(bytes.subarray(0, end), pos);
  if (length === undefined) throw malformed('truncated property length');
  let at = pos + length.bytes;
  const stop = at + length.value;
  if (stop > end) throw malformed('property section runs past the packet');
  const seen = new Set<number>();
  while (at < stop) {
    const id = bytes[at++] as number;
    if (!allowed.has(id)) throw malformed(`property 0x${id.toString(16)} is not allowed in this packet`);
    if (id !== USER_PROPERTY) {
      if (seen.has(id)) throw new ProtocolError(ReasonCode.ProtocolError, `property 0x${id.toString(16)} appears more than once`);
      seen.add(id);
    }
    if (BYTE.includes(id)) at += 1;
    else if (INT16.includes(id)) at += 2;
    else if (INT32.includes(id)) at += 4;
    else if (STRING.includes(id)) at = utf8Field(bytes, at, stop, `property 0x${id.toString(16)}`);
    else if (BINARY.includes(id)) at = binaryField(bytes, at, stop, `property 0x${id.toString(16)}`);
    else if (id === USER_PROPERTY) at = utf8Field(bytes, utf8Field(bytes, at, stop, 'user property name'), stop, 'user property value');
    else if (id === SUBSCRIPTION_ID) {
      const v = readRemainingLength(bytes.subarray(0, stop), at);
      if (v === undefined) throw malformed('truncated Subscription Identifier');
      if (v.value === 0) throw malformed('Subscription Identifier 0');
      at += v.bytes;
    } else throw malformed(`unknown property 0x${id.toString(16)}`);
    if (at > stop) throw malformed('property runs past its section');
  }
  return stop;
}

/** 5.0 PUBACK, PUBREC, PUBREL, PUBCOMP: the property section, when there is one. */
export function checkAckProperties(bytes: Buffer): void {
  const pos = bodyStart(bytes) + 3;
  if (pos < bytes.length) checkProperties(bytes, pos, bytes.length, ALLOWED_PROPERTIES.ack);
}

/** Validates a whole non-PUBLISH, non-acknowledgement client packet that mqtt-packet parsed as `cmd`. */
export function validateClientPacket(bytes: Buffer, cmd: string, version: number): void {
  const v5 = version === 5;
  const start = bodyStart(bytes);
  const end = bytes.length;
  switch (cmd) {
    case 'connect': {
      const nameEnd = utf8Field(bytes, start, end, 'protocol name');
      if (nameEnd + 4 > end) throw malformed('truncated CONNECT');
      const flags = bytes[nameEnd + 1] as number;
      let pos = nameEnd + 4;
      if (v5) pos = checkProperties(bytes, pos, end, ALLOWED_PROPERTIES.connect);
      pos = utf8Field(bytes, pos, end, 'client identifier');
      if (flags & 0x04) {
        if (v5) pos = checkProperties(bytes, pos, end, ALLOWED_PROPERTIES.will);
        pos = utf8Field(bytes, pos, end, 'will topic');
        pos = binaryField(bytes, pos, end, 'will payload');
      }
      if (flags & 0x80) utf8Field(bytes, pos, end, 'user name');
      return;
    }
    case 'subscribe':
    case 'unsubscribe': {
      if (start + 2 > end) throw malformed(`truncated ${cmd}`);
      if (bytes.readUInt16BE(start) === 0) throw malformed(`${cmd} with packet identifier 0 [MQTT-2.2.1-3]`);
      let pos = start + 2;
      if (v5) pos = checkProperties(bytes, pos, end, cmd === 'subscribe' ? ALLOWED_PROPERTIES.subscribe : ALLOWED_PROPERTIES.unsubscribe);
      while (pos < end) {
        pos = utf8Field(bytes, pos, end, 'topic filter');
        if (cmd === 'subscribe') pos += 1;
      }
      if (pos > end) throw malformed('SUBSCRIBE without the options of its last filter');
      return;
    }
    case 'pingreq':
      if (end !== start) throw malformed('PINGREQ with a body');
      return;
    case 'disconnect':
    case 'auth':
      if (!v5) {
        if (end !== start) throw malformed(`${cmd} with a body`);
        return;
      }
      if (end - start > 1) checkProperties(bytes, start + 1, end, cmd === 'auth' ? ALLOWED_PROPERTIES.auth : ALLOWED_PROPERTIES.disconnect);
      return;
    default:
      return;
  }
}
