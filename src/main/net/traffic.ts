/**
 * What the client connections carried, counted where the bytes pass: packets
 * and bytes received and sent by MQTT packet type, the PUBLISHes sent by QoS
 * (the deliveries), and the CONNACKs sent by result (a 3.1.1 return code
 * counts as the 5.0 reason code it stands for). Every Connection adds to the
 * one instance its owner holds; plain counters, nothing per client. Main thread.
 */
import { readRemainingLength } from '../../shared/codec/framer.js';
import { ConnackReturnCode, ReasonCode } from '../../shared/codec/reason-codes.js';

/** MQTT control packet type names, by the fixed header's high nibble (0 is reserved). */
export const PACKET_TYPE_NAMES = [
  'reserved',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
] as const;

export type PacketTypeName = (typeof PACKET_TYPE_NAMES)[number];

/** The 5.0 CONNACK reason code a 3.1.1 return code stands for. */
const V3_RETURN_CODES: Record<number, number> = {
  [ConnackReturnCode.Accepted]: ReasonCode.Success,
  [ConnackReturnCode.UnacceptableProtocolVersion]: ReasonCode.UnsupportedProtocolVersion,
  [ConnackReturnCode.IdentifierRejected]: ReasonCode.ClientIdentifierNotValid,
  [ConnackReturnCode.ServerUnavailable]: ReasonCode.ServerUnavailable,
  [ConnackReturnCode.BadUserNameOrPassword]: ReasonCode.BadUserNameOrPassword,
  [ConnackReturnCode.NotAuthorized]: ReasonCode.NotAuthorized,
};

/** Snapshot of the counters (plain numbers, safe to hand to any consumer). */
export interface TrafficStats {
  /** By packet type name: packets and bytes (fixed header included). */
  received: Record<PacketTypeName, { packets: number; bytes: number }>;
  sent: Record<PacketTypeName, { packets: number; bytes: number }>;
  /** PUBLISH packets sent, by their QoS (index 0, 1, 2). */
  publishSentByQos: [number, number, number];
  /** CONNACKs sent, by 5.0 reason code (0 = accepted). */
  connacks: Record<number, number>;
}

export class Traffic {
  private readonly packetsIn = new Float64Array(16);
  private readonly bytesIn = new Float64Array(16);
  private readonly packetsOut = new Float64Array(16);
  private readonly bytesOut = new Float64Array(16);
  private readonly publishOut = new Float64Array(3);
  private readonly connacks = new Map<number, number>();

  /** A whole packet read from a client. */
  received(packet: Uint8Array): void {
    const type = packet[0]! >> 4;
    this.packetsIn[type]!++;
    this.bytesIn[type]! += packet.length;
  }

  /** One packet written to a client speaking `protocolVersion`. */
  sent(packet: Uint8Array, protocolVersion: number): void {
    const type = packet[0]! >> 4;
    this.packetsOut[type]!++;
    this.bytesOut[type]! += packet.length;
    if (type === 3) this.publishOut[(packet[0]! >> 1) & 3]!++;
    else if (type === 2) this.connackSent(packet, protocolVersion);
  }

  stats(): TrafficStats {
    const table = (packets: Float64Array, bytes: Float64Array): TrafficStats['received'] => {
      const out = {} as TrafficStats['received'];
      PACKET_TYPE_NAMES.forEach((name, type) => {
        out[name] = { packets: packets[type]!, bytes: bytes[type]! };
      });
      return out;
    };
    return {
      received: table(this.packetsIn, this.bytesIn),
      sent: table(this.packetsOut, this.bytesOut),
      publishSentByQos: [this.publishOut[0]!, this.publishOut[1]!, this.publishOut[2]!],
      connacks: Object.fromEntries(this.connacks),
    };
  }

  /** A CONNACK's result: the byte after its flags (reason code for 5.0, return code for 3.x). */
  private connackSent(packet: Uint8Array, protocolVersion: number): void {
    const length = readRemainingLength(packet, 1);
    if (length === undefined) return;
    const code = packet[1 + length.bytes + 1]!;
    const reasonCode = protocolVersion === 5 ? code : (V3_RETURN_CODES[code] ?? ReasonCode.UnspecifiedError);
    this.connacks.set(reasonCode, (this.connacks.get(reasonCode) ?? 0) + 1);
  }
}
