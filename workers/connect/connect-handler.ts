/**
 * CONNECT on a new transport: parse it and check its will (topic name; a 5.0
 * will whose Payload Format Indicator says UTF-8 must be so: 0x99), choose
 * its pool (a `vhost:user` username when usernames carry a vhost, or the listener, workers/runtime/pools.ts;
 * refused with server unavailable), run the enhanced authentication exchange
 * when it names an Authentication Method, check the client id, then hand it
 * to the registration (connect-register.ts: the plugin hooks, the session,
 * CONNACK), in VerneMQ's order; a CONNECT moved here from the host it was
 * placed on (`continued`, connect-move.ts) goes straight back to its
 * registration. Refusals get the right CONNACK code (and a
 * Reason String on 5.0) and a close (connect-refusal.ts). Runs wherever the
 * actor host runs.
 */
import { isUtf8 } from 'node:buffer';
import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { BrokerConfig } from '../../src/api/config.js';
import { isSysTopic, isValidTopicName } from '../../src/shared/topic/topic.js';
import { ConnectAuth } from './auth-flow.js';
import { register, registerMoved } from './connect-register.js';
import { readMovedConnect } from './connect-move.js';
import { refuseConnect, refuseUnparsed } from './connect-refusal.js';
import type { Authenticated, OpenFrame, SessionDirectory } from './connect-types.js';
import { choosePool, vhostSeparator } from '../runtime/pools.js';
import { parsePacket } from '../../src/shared/codec/packet-io.js';
import { fixedHeaderLength } from '../../src/shared/codec/framer.js';

interface Refusal {
  code: number;
  reason: string;
}

export function handleConnect(dir: SessionDirectory, open: OpenFrame): void {
  const version = protocolLevel(open.packet);
  let connect: mqttPacket.IConnectPacket;
  try {
    const parsed = parsePacket(open.packet, version);
    if (parsed.cmd !== 'connect') throw new ProtocolError(ReasonCode.ProtocolError, 'first packet is not CONNECT [MQTT-3.1.0-1]');
    connect = parsed;
  } catch (err) {
    const code = err instanceof ProtocolError ? err.reasonCode : ReasonCode.MalformedPacket;
    return refuseUnparsed(dir, open, version === 5 ? 5 : 4, code, err instanceof Error ? err.message : 'malformed CONNECT');
  }
  if (open.continued !== undefined) {
    const moved = readMovedConnect(open.continued);
    setUsername(connect, moved.username);
    return registerMoved(dir, open, connect, moved);
  }
  const refusal = willRefusal(connect);
  if (refusal !== undefined) return refuseConnect(dir, open, connect, refusal.code, refusal.reason);
  const separator = vhostSeparator(dir.runtime, dir.config.vhostSeparator);
  const choice = choosePool(dir.runtime, connect.username, dir.config.listenerPools[open.transport.type], separator);
  if ('refused' in choice) return refuseConnect(dir, open, connect, ReasonCode.ServerUnavailable, choice.refused);
  const { pool } = choice;
  setUsername(connect, choice.username);
  // VerneMQ's order: the enhanced authentication, then the client id check, then auth_on_register.
  const registerChecked = (authenticated: Authenticated | undefined): void => {
    const idRefusal = clientIdRefusal(dir.config, connect, open.clientIdAssigned);
    if (idRefusal !== undefined) return refuseConnect(dir, open, connect, idRefusal.code, idRefusal.reason);
    register(dir, open, connect, pool, authenticated);
  };
  const method = connect.protocolVersion === 5 ? connect.properties?.authenticationMethod : undefined;
  if (method === undefined) return registerChecked(undefined);
  const request = { method, clientId: open.clientId, username: connect.username, reauthentication: false, pool, userContext: undefined };
  const exchange = dir.authenticator?.start(request);
  if (!exchange) {
    return refuseConnect(
      dir,
      open,
      connect,
      ReasonCode.BadAuthenticationMethod,
      `Authentication Method ${method} is not supported [MQTT-4.12.0-1]`,
    );
  }
  const auth = new ConnectAuth(
    method,
    exchange,
    {
      accept: (m, data) => registerChecked({ method: m, data }),
      refuse: (code, reason, serverReference) => refuseConnect(dir, open, connect, code, reason, serverReference),
      sendAuth: (bytes) => dir.sendRaw(open.connId, bytes),
      close: () => dir.endRaw(open.connId),
      failed: (err) => {
        dir.log.error({ err, connId: open.connId }, 'enhanced authentication failed');
        dir.endRaw(open.connId);
      },
    },
    connect.properties?.maximumPacketSize ?? 0,
  );
  dir.pendAuth(open.connId, auth);
  auth.step(connect.properties?.authenticationData);
}

/** The username plugins and the runtime see (none: the field goes). */
function setUsername(connect: mqttPacket.IConnectPacket, username: string | undefined): void {
  if (username === undefined) delete connect.username;
  else connect.username = username;
}

/** The protocol level byte of a CONNECT: 3 (MQIsdp), 4 (3.1.1) or 5. */
function protocolLevel(packet: Buffer): number {
  const nameAt = fixedHeaderLength(packet);
  const nameLength = packet.length > nameAt + 1 ? packet.readUInt16BE(nameAt) : 0;
  return (packet[nameAt + 2 + nameLength] as number | undefined) ?? 4;
}

function clientIdRefusal(config: BrokerConfig, connect: mqttPacket.IConnectPacket, assigned: boolean): Refusal | undefined {
  if (assigned && connect.clean === false && connect.protocolVersion !== 5) {
    return { code: ReasonCode.ClientIdentifierNotValid, reason: 'an empty client id needs clean session [MQTT-3.1.3-8]' };
  }
  if (connect.clientId.length > config.maxClientIdLength) {
    return { code: ReasonCode.ClientIdentifierNotValid, reason: `client id longer than ${config.maxClientIdLength} characters` };
  }
  return undefined;
}

function willRefusal(connect: mqttPacket.IConnectPacket): Refusal | undefined {
  const v = connect.protocolVersion ?? 4;
  if (connect.will && !isValidTopicName(connect.will.topic)) {
    return { code: v === 5 ? ReasonCode.TopicNameInvalid : ReasonCode.MalformedPacket, reason: 'invalid will topic' };
  }
  if (connect.will && isSysTopic(connect.will.topic)) {
    return { code: ReasonCode.NotAuthorized, reason: 'a will on $SYS is reserved for the broker' };
  }
  const willPayload = connect.will?.payload;
  if (v === 5 && connect.will?.properties?.payloadFormatIndicator === true && Buffer.isBuffer(willPayload) && !isUtf8(willPayload)) {
    return {
      code: ReasonCode.PayloadFormatInvalid,
      reason: 'will payload is not UTF-8 but its Payload Format Indicator says so (§3.1.3.2.3)',
    };
  }
  return undefined;
}
