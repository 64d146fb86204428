/**
 * The refusal of a CONNECT: CONNACK with its code (a Reason String and a
 * Server Reference on 5.0, when they fit the client's Maximum Packet Size),
 * then the close, and the 'client-refused' event that tells the main thread.
 * Used by the connect handler and the registration. Runs wherever the actor
 * host runs.
 */
import type mqttPacket from 'mqtt-packet';
import { connackCodeForV3, ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { generatePacket, generateWithReason } from '../../src/shared/codec/packet-io.js';
import type { OpenFrame, RawConnections } from './connect-types.js';

/** What a refusal needs of the CONNECT it refuses. */
interface RefusedConnect {
  version: number;
  username: string | undefined;
  /** The client's Maximum Packet Size (0 = none). */
  maxPacketSize: number;
}

/** refuse() of a parsed CONNECT. */
export function refuseConnect(
  dir: RawConnections,
  open: OpenFrame,
  connect: mqttPacket.IConnectPacket,
  reasonCode: number,
  reason: string,
  serverReference?: string,
): void {
  const refused = {
    version: connect.protocolVersion ?? 4,
    username: connect.username,
    maxPacketSize: connect.properties?.maximumPacketSize ?? 0,
  };
  refuse(dir, open, refused, reasonCode, reason, serverReference);
}

/** refuse() of a CONNECT that could not be parsed: no username, no Maximum Packet Size. */
export function refuseUnparsed(dir: RawConnections, open: OpenFrame, version: number, reasonCode: number, reason: string): void {
  refuse(dir, open, { version, username: undefined, maxPacketSize: 0 }, reasonCode, reason);
}

/**
 * CONNACK with a refusal code (a Reason String, and a Server Reference when
 * given, on 5.0), then close; a malformed 3.1.1 CONNECT is just closed, and
 * so is a 5.0 one whose CONNACK would not fit its Maximum Packet Size even
 * without the Reason String [MQTT-3.1.2-24]. The 'client-refused' event
 * tells the code the client got: a 3.1.1 client's CONNACK return code, or
 * the 5.0 code when it got no CONNACK.
 */
function refuse(
  dir: RawConnections,
  open: OpenFrame,
  refused: RefusedConnect,
  reasonCode: number,
  reason: string,
  serverReference?: string,
): void {
  const { version } = refused;
  let toldCode = reasonCode;
  if (version === 5) {
    const connack: mqttPacket.IConnackPacket = { cmd: 'connack', sessionPresent: false, reasonCode };
    if (serverReference !== undefined) connack.properties = { serverReference };
    const bytes = generateWithReason(connack, reason, refused.maxPacketSize);
    if (bytes) dir.sendRaw(open.connId, bytes);
  } else if (reasonCode !== ReasonCode.MalformedPacket) {
    toldCode = connackCodeForV3(reasonCode);
    dir.sendRaw(open.connId, generatePacket({ cmd: 'connack', sessionPresent: false, returnCode: toldCode }, version));
  }
  dir.endRaw(open.connId);
  const { transport } = open;
  dir.link.event({
    name: 'client-refused',
    clientId: open.clientId,
    detail: {
      username: refused.username,
      protocolVersion: version,
      transport: transport.type,
      remoteAddress: transport.remoteAddress,
      remotePort: transport.remotePort,
      reasonCode: toldCode,
      reason,
    },
  });
}
