/**
 * The refusal of a CONNECT: CONNACK with its code (a Reason String and a
 * Server Reference on 5.0, when they fit the client's Maximum Packet Size),
 * then the close. Used by the connect handler and the registration. Runs
 * wherever the actor host runs.
 */
import type mqttPacket from 'mqtt-packet';
import { connackCodeForV3, ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { generatePacket, generateWithReason } from '../../src/shared/codec/packet-io.js';
import type { RawConnections } from './connect-types.js';

/** refuse() of a parsed CONNECT, with its protocol version and its Maximum Packet Size. */
export function refuseConnect(
  dir: RawConnections,
  connId: number,
  connect: mqttPacket.IConnectPacket,
  reasonCode: number,
  reason: string,
  serverReference?: string,
): void {
  refuse(dir, connId, connect.protocolVersion ?? 4, reasonCode, reason, connect.properties?.maximumPacketSize ?? 0, serverReference);
}

/**
 * CONNACK with a refusal code (a Reason String, and a Server Reference when
 * given, on 5.0), then close; a malformed 3.1.1 CONNECT is just closed, and
 * so is a 5.0 one whose CONNACK would not fit its Maximum Packet Size even
 * without the Reason String [MQTT-3.1.2-24].
 */
export function refuse(
  dir: RawConnections,
  connId: number,
  version: number,
  reasonCode: number,
  reason: string,
  maxPacketSize: number,
  serverReference?: string,
): void {
  if (version === 5) {
    const connack: mqttPacket.IConnackPacket = { cmd: 'connack', sessionPresent: false, reasonCode };
    if (serverReference !== undefined) connack.properties = { serverReference };
    const bytes = generateWithReason(connack, reason, maxPacketSize);
    if (bytes) dir.sendRaw(connId, bytes);
  } else if (reasonCode !== ReasonCode.MalformedPacket) {
    dir.sendRaw(connId, generatePacket({ cmd: 'connack', sessionPresent: false, returnCode: connackCodeForV3(reasonCode) }, version));
  }
  dir.endRaw(connId);
}
