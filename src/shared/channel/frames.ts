/**
 * The only shapes that cross a thread: `ToSession` (main thread → actor host)
 * and `ToRouter` (actor host → main thread: frames for a client's
 * connection, for the topic router, and control frames for the broker), and
 * their binary frame codecs (an application message inside a frame in the
 * form of src/shared/message/message-codec.ts).
 * Frames are written into a BatchWriter and read back from a BatchReader;
 * hot kinds (packet, send, sendShared, publish, deliver, released, committed) are plain binary; open,
 * connectReleased, plugins, event, hookCall and hookResult carry a small JSON
 * body, the rest are binary too. Used on every thread.
 */
import type { AppMessage, QoS } from '../message/app-message.js';
import { readAppMessage, writeAppMessage } from '../message/message-codec.js';
import type { BatchReader } from './batch-reader.js';
import type { BatchWriter } from './batch-writer.js';
import type { DropReason } from '../message/drop-reason.js';
import type { TransportInfo, TransportName } from '../transport.js';
import { DISCONNECT_CAUSES, type DisconnectCause } from '../disconnect-cause.js';
import type { ServerDisconnect } from './host-control.js';

/** Why the main thread dropped a QoS 0 PUBLISH (the `dropped` frame). */
export type TransportDropReason = Extract<DropReason, 'queue_full' | 'max_packet_size_exceeded'>;

export type { TransportInfo };

/** How a connection's transport closed on the main thread (the `closed` frame): its cause, and the detail in words. */
export interface TransportClosed {
  cause: DisconnectCause;
  reason: string;
}

export interface DeliveryTarget {
  sid: number;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[];
  /** The shared subscription (`$share/{group}/{filter}`) the message was picked for; absent for ordinary ones. */
  share?: string;
  /** A retained message sent because of a new subscription. */
  stored?: true;
}

/**
 * A new transport's CONNECT for the host its client id places it on; with
 * `continued`, a CONNECT whose registration another host began and this one
 * goes on with (the host that owns the subscriber id auth_on_register chose):
 * what that host decided, as workers/connect/connect-move.ts writes it.
 */
export interface OpenFrame {
  kind: 'open';
  connId: number;
  clientId: string;
  clientIdAssigned: boolean;
  transport: TransportInfo;
  packet: Buffer;
  continued?: string;
}

export type ToSession =
  | OpenFrame
  | { kind: 'packet'; connId: number; packet: Buffer }
  | { kind: 'closed'; connId: number; closed: TransportClosed }
  /**
   * A QoS 0 PUBLISH the connection dropped, for on_message_drop: `queue_full`
   * when its socket held over maxConnectionBufferBytes, `max_packet_size_exceeded`
   * when re-adding the topic of a Topic Alias the client missed made it too large.
   */
  | { kind: 'dropped'; connId: number; reason: TransportDropReason; packet: Buffer }
  /**
   * A routed message for sessions of this host. `token` (0 = none) names a
   * QoS 1/2 publish whose acknowledgement waits for the commits that keep it:
   * the host reports it in a `committed` frame once what it did with the
   * message is committed.
   */
  | { kind: 'deliver'; message: AppMessage; targets: DeliveryTarget[]; token: number }
  /** Every commit that keeps the publish the host numbered `ackId` is done (`ok`), or one failed: its acknowledgement may go. */
  | { kind: 'released'; ackId: number; ok: boolean }
  /** The hooks the embedding application's in-process plugins implement (sent whenever the list changes). */
  | { kind: 'plugins'; hooks: string[] }
  /** The outcome of the in-process chain for hookCall `callId`, as src/shared/hooks/wire.ts JSON. */
  | { kind: 'hookResult'; callId: number; result: string }
  /** The CONNECT of `connId` moves to another host (it asked `moveConnect`): hand back what it holds of it, nothing more comes. */
  | { kind: 'releaseConnect'; connId: number }
  /**
   * The cluster answered the `claimSession` of `connId`: `claim` (above 0)
   * numbers this node's ownership of the session (a state handed over by
   * its previous owner was restored first); 0 refuses the CONNECT (the
   * link to the cluster is down).
   */
  | { kind: 'sessionClaimed'; connId: number; claim: number }
  /** The answer to the host's `disconnectClient` frame `requestId`: whether the client was connected. */
  | { kind: 'disconnectResult'; requestId: number; connected: boolean };

export interface SubscribeRequest {
  pool: string;
  sid: number;
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  subscriptionId: number;
  sendRetained: boolean;
}

/** Where a client of a session event connected from. */
export interface ClientAddress {
  transport: TransportName;
  remoteAddress: string;
  remotePort: number;
}

/** The detail of each session event, by its name: what the broker emits and its connection log lines tell. */
export interface SessionEventDetails {
  /** CONNACK 0x00 went out. */
  'client-connected': ClientAddress & {
    username: string | undefined;
    pool: string;
    protocolVersion: number;
    sessionPresent: boolean;
  };
  /**
   * A CONNECT was refused: `reasonCode` is the CONNACK's (the 3.1.1 return
   * code for 3.1.1), or the 5.0 code of a CONNECT closed without CONNACK.
   */
  'client-refused': ClientAddress & {
    username: string | undefined;
    protocolVersion: number;
    reasonCode: number;
    reason: string;
  };
  /** The session's connection closed, for `cause`; `reason` says more in words. */
  'client-disconnected': ClientAddress & {
    username: string | undefined;
    pool: string;
    cause: DisconnectCause;
    reason: string;
  };
}

export type SessionEventName = keyof SessionEventDetails;

/** One session event: its name, the client id, and the detail of that name. */
export type SessionEvent = { [N in SessionEventName]: { name: N; clientId: string; detail: SessionEventDetails[N] } }[SessionEventName];

/** Host → main: what a session asks of its client's connection. */
export type ConnectionFrame =
  | { kind: 'send'; connId: number; bytes: Buffer }
  /** The same bytes for several connections (a QoS 0 PUBLISH fanned out): written to each from one buffer. */
  | { kind: 'sendShared'; connIds: number[]; bytes: Buffer }
  | { kind: 'end'; connId: number }
  /** Stop reading the connection for `ms` (a 3.1.1 client over its publish rate, or a plugin's `throttle`); a later frame may extend it. */
  | { kind: 'throttle'; connId: number; ms: number }
  /**
   * CONNACK 0x00 was sent; `maxPacketSize` (0 = unchanged) is what the
   * connection may now send, from a plugin's modifiers; `maxOutgoingPacketSize`
   * (0 = no limit) is the largest packet the client accepts, for the
   * DISCONNECTs the main thread writes.
   */
  | { kind: 'accepted'; connId: number; keepalive: number; maxPacketSize: number; maxOutgoingPacketSize: number }
  /** The CONNECT of `connId` continues on host `host`, which owns the session it registers: the main thread answers `releaseConnect`. */
  | { kind: 'moveConnect'; connId: number; host: number }
  /** Released: the CONNECT's `open` frame for its new host (with `continued`), and the connection's packets that came meanwhile. */
  | { kind: 'connectReleased'; open: OpenFrame; held: Buffer[] }
  /** The CONNECT of `connId` registers session `clientId` of `pool`: make this node its owner in the cluster, then answer `sessionClaimed`. */
  | { kind: 'claimSession'; connId: number; pool: string; clientId: string }
  /** The session `clientId` of `pool`, registered under cluster claim `claim`, ended here: its ownership entry may go. */
  | { kind: 'sessionReleased'; pool: string; clientId: string; claim: number };

/** Host → main: what a session asks of the topic router. */
export type RoutingFrame =
  /** A message published by session `sid`; `ackId` (0 = none) asks for a `released` frame once the commits that keep it are done. */
  | { kind: 'publish'; pool: string; sid: number; message: AppMessage; ackId: number }
  | ({ kind: 'subscribe' } & SubscribeRequest)
  | { kind: 'unsubscribe'; pool: string; sid: number; filter: string }
  /** The session ended (expired, replaced by a clean start, or its host shut down): the router forgets its subscriptions. */
  | { kind: 'sessionEnded'; sid: number }
  /** A message the session got for shared subscription `share` and will not deliver: route it to another member. */
  | { kind: 'redispatch'; pool: string; sid: number; share: string; message: AppMessage }
  /** The session's transport came or went; shared subscription groups prefer online members. */
  | { kind: 'presence'; sid: number; online: boolean };

/** Host → main: what a host tells the broker itself, outside any connection or route. */
export type ControlFrame =
  | ({ kind: 'event' } & SessionEvent)
  /** The host has handled `batches` more batches from the main thread (inbound flow control). */
  | { kind: 'credit'; batches: number }
  /** What this host did with the deliver frames of `tokens` is committed (`ok`), or its commit failed. */
  | { kind: 'committed'; tokens: number[]; ok: boolean }
  /**
   * Run hook `hook` in the in-process plugins with `args` (src/shared/hooks/wire.ts
   * JSON); callId 0 (an `all` hook) expects no hookResult.
   */
  | { kind: 'hookCall'; callId: number; hook: string; args: string }
  /**
   * A module plugin asks to disconnect client `clientId` of `pool`, whichever
   * host owns its session (PluginContext.disconnectClient): the main thread
   * asks that host as Broker.disconnectClient does and answers `disconnectResult`.
   */
  | { kind: 'disconnectClient'; requestId: number; pool: string; clientId: string; request: ServerDisconnect };

/** Every frame from an actor host to the main thread. */
export type ToRouter = ConnectionFrame | RoutingFrame | ControlFrame;

const S_OPEN = 1,
  S_PACKET = 2,
  S_CLOSED = 3,
  S_DELIVER = 4,
  S_PLUGINS = 5,
  S_HOOK_RESULT = 6,
  S_DROPPED = 7,
  S_RELEASED = 8,
  S_RELEASE_CONNECT = 9,
  S_SESSION_CLAIMED = 10,
  S_DISCONNECT_RESULT = 11;
const R_SEND = 1,
  R_END = 2,
  R_ACCEPTED = 3,
  R_PUBLISH = 4,
  R_SUBSCRIBE = 5,
  R_UNSUBSCRIBE = 6,
  R_SESSION_ENDED = 7,
  R_EVENT = 8,
  R_CREDIT = 9;
const R_REDISPATCH = 10,
  R_PRESENCE = 11,
  R_HOOK_CALL = 12,
  R_COMMITTED = 13,
  R_SEND_SHARED = 14,
  R_THROTTLE = 15,
  R_MOVE_CONNECT = 16,
  R_CONNECT_RELEASED = 17,
  R_CLAIM_SESSION = 18,
  R_DISCONNECT_CLIENT = 19,
  R_SESSION_RELEASED = 20;
/** Target flags of a deliver frame, next to the QoS in the low two bits. */
const T_RETAIN = 4,
  T_SHARE = 8,
  T_STORED = 16;

// ── towards a session ────────────────────────────────────────────────────────

export function writeOpen(w: BatchWriter, m: OpenFrame): void {
  w.u8(S_OPEN);
  writeOpenBody(w, m);
}

/** An open frame's fields after its kind (also what `connectReleased` carries). */
function writeOpenBody(w: BatchWriter, m: OpenFrame): void {
  w.u32(m.connId);
  w.str(JSON.stringify({ clientId: m.clientId, clientIdAssigned: m.clientIdAssigned, transport: m.transport, continued: m.continued }));
  w.bytes(m.packet);
}

function readOpenBody(r: BatchReader): OpenFrame {
  const connId = r.u32();
  const meta = JSON.parse(r.str()) as Omit<OpenFrame, 'kind' | 'connId' | 'packet'>;
  return { kind: 'open', connId, ...meta, packet: r.bytes() };
}

export function writeReleaseConnect(w: BatchWriter, connId: number): void {
  w.u8(S_RELEASE_CONNECT);
  w.u32(connId);
}

export function writeSessionClaimed(w: BatchWriter, connId: number, claim: number): void {
  w.u8(S_SESSION_CLAIMED);
  w.u32(connId);
  w.u32(claim);
}

export function writePacket(w: BatchWriter, connId: number, packet: Uint8Array): void {
  w.u8(S_PACKET);
  w.u32(connId);
  w.bytes(packet);
}

export function writeClosed(w: BatchWriter, connId: number, closed: TransportClosed): void {
  w.u8(S_CLOSED);
  w.u32(connId);
  w.u8(DISCONNECT_CAUSES.indexOf(closed.cause));
  w.str(closed.reason);
}

export function writeDropped(w: BatchWriter, connId: number, reason: TransportDropReason, packet: Uint8Array): void {
  w.u8(S_DROPPED);
  w.u32(connId);
  w.u8(reason === 'queue_full' ? 0 : 1);
  w.bytes(packet);
}

export function writeDeliver(w: BatchWriter, message: AppMessage, targets: readonly DeliveryTarget[], token: number): void {
  w.u8(S_DELIVER);
  w.u32(token);
  writeAppMessage(w, message);
  w.u32(targets.length);
  for (const t of targets) {
    w.u32(t.sid);
    w.u8(t.qos | (t.retain ? T_RETAIN : 0) | (t.share !== undefined ? T_SHARE : 0) | (t.stored ? T_STORED : 0));
    w.u32(t.subscriptionIds.length);
    for (const id of t.subscriptionIds) w.u32(id);
    if (t.share !== undefined) w.str(t.share);
  }
}

export function writeReleased(w: BatchWriter, ackId: number, ok: boolean): void {
  w.u8(S_RELEASED);
  w.u32(ackId);
  w.u8(ok ? 1 : 0);
}

export function writePlugins(w: BatchWriter, hooks: readonly string[]): void {
  w.u8(S_PLUGINS);
  w.str(JSON.stringify(hooks));
}

export function writeHookResult(w: BatchWriter, callId: number, result: string): void {
  w.u8(S_HOOK_RESULT);
  w.u32(callId);
  w.str(result);
}

export function writeDisconnectResult(w: BatchWriter, requestId: number, connected: boolean): void {
  w.u8(S_DISCONNECT_RESULT);
  w.u32(requestId);
  w.u8(connected ? 1 : 0);
}

export function readToSession(r: BatchReader): ToSession {
  const kind = r.u8();
  switch (kind) {
    case S_PACKET:
      return { kind: 'packet', connId: r.u32(), packet: r.bytes() };
    case S_DELIVER: {
      const token = r.u32();
      const message = readAppMessage(r);
      const n = r.u32();
      const targets: DeliveryTarget[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const sid = r.u32();
        const flags = r.u8();
        const ids = r.u32();
        const subscriptionIds: number[] = new Array(ids);
        for (let j = 0; j < ids; j++) subscriptionIds[j] = r.u32();
        const target: DeliveryTarget = { sid, qos: (flags & 3) as QoS, retain: (flags & T_RETAIN) !== 0, subscriptionIds };
        if (flags & T_SHARE) target.share = r.str();
        if (flags & T_STORED) target.stored = true;
        targets[i] = target;
      }
      return { kind: 'deliver', message, targets, token };
    }
    case S_OPEN:
      return readOpenBody(r);
    case S_RELEASE_CONNECT:
      return { kind: 'releaseConnect', connId: r.u32() };
    case S_SESSION_CLAIMED:
      return { kind: 'sessionClaimed', connId: r.u32(), claim: r.u32() };
    case S_CLOSED:
      return { kind: 'closed', connId: r.u32(), closed: { cause: DISCONNECT_CAUSES[r.u8()]!, reason: r.str() } };
    case S_DROPPED:
      return { kind: 'dropped', connId: r.u32(), reason: r.u8() === 0 ? 'queue_full' : 'max_packet_size_exceeded', packet: r.bytes() };
    case S_RELEASED:
      return { kind: 'released', ackId: r.u32(), ok: r.u8() === 1 };
    case S_PLUGINS:
      return { kind: 'plugins', hooks: JSON.parse(r.str()) as string[] };
    case S_HOOK_RESULT:
      return { kind: 'hookResult', callId: r.u32(), result: r.str() };
    case S_DISCONNECT_RESULT:
      return { kind: 'disconnectResult', requestId: r.u32(), connected: r.u8() === 1 };
    default:
      throw new Error(`unknown ToSession frame kind ${kind}`);
  }
}

// ── towards the router ───────────────────────────────────────────────────────

export function writeSend(w: BatchWriter, connId: number, bytes: Uint8Array): void {
  w.u8(R_SEND);
  w.u32(connId);
  w.bytes(bytes);
}

export function writeSendShared(w: BatchWriter, connIds: readonly number[], bytes: Uint8Array): void {
  w.u8(R_SEND_SHARED);
  w.u32(connIds.length);
  for (let i = 0; i < connIds.length; i++) w.u32(connIds[i]!);
  w.bytes(bytes);
}

export function writeEnd(w: BatchWriter, connId: number): void {
  w.u8(R_END);
  w.u32(connId);
}

export function writeThrottle(w: BatchWriter, connId: number, ms: number): void {
  w.u8(R_THROTTLE);
  w.u32(connId);
  w.u32(ms);
}

export function writeAccepted(
  w: BatchWriter,
  connId: number,
  keepalive: number,
  maxPacketSize: number,
  maxOutgoingPacketSize: number,
): void {
  w.u8(R_ACCEPTED);
  w.u32(connId);
  w.u32(keepalive);
  w.u32(maxPacketSize);
  w.u32(maxOutgoingPacketSize);
}

export function writeMoveConnect(w: BatchWriter, connId: number, host: number): void {
  w.u8(R_MOVE_CONNECT);
  w.u32(connId);
  w.u32(host);
}

export function writeConnectReleased(w: BatchWriter, open: OpenFrame, held: readonly Uint8Array[]): void {
  w.u8(R_CONNECT_RELEASED);
  writeOpenBody(w, open);
  w.u32(held.length);
  for (const packet of held) w.bytes(packet);
}

export function writeClaimSession(w: BatchWriter, connId: number, pool: string, clientId: string): void {
  w.u8(R_CLAIM_SESSION);
  w.u32(connId);
  w.str(pool);
  w.str(clientId);
}

export function writeSessionReleased(w: BatchWriter, pool: string, clientId: string, claim: number): void {
  w.u8(R_SESSION_RELEASED);
  w.str(pool);
  w.str(clientId);
  w.u32(claim);
}

export function writePublish(w: BatchWriter, pool: string, sid: number, message: AppMessage, ackId: number): void {
  w.u8(R_PUBLISH);
  w.str(pool);
  w.u32(sid);
  w.u32(ackId);
  writeAppMessage(w, message);
}

export function writeSubscribe(w: BatchWriter, s: SubscribeRequest): void {
  w.u8(R_SUBSCRIBE);
  w.str(s.pool);
  w.u32(s.sid);
  w.str(s.filter);
  w.u8(s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (s.sendRetained ? 16 : 0));
  w.u32(s.subscriptionId);
}

export function writeUnsubscribe(w: BatchWriter, pool: string, sid: number, filter: string): void {
  w.u8(R_UNSUBSCRIBE);
  w.str(pool);
  w.u32(sid);
  w.str(filter);
}

export function writeSessionEnded(w: BatchWriter, sid: number): void {
  w.u8(R_SESSION_ENDED);
  w.u32(sid);
}

export function writeEvent(w: BatchWriter, event: SessionEvent): void {
  w.u8(R_EVENT);
  w.str(JSON.stringify(event));
}

/** The host has handled `batches` more batches from the main thread (inbound flow control). */
export function writeCredit(w: BatchWriter, batches: number): void {
  w.u8(R_CREDIT);
  w.u32(batches);
}

export function writeCommitted(w: BatchWriter, tokens: readonly number[], ok: boolean): void {
  w.u8(R_COMMITTED);
  w.u8(ok ? 1 : 0);
  w.u32(tokens.length);
  for (const token of tokens) w.u32(token);
}

export function writeRedispatch(w: BatchWriter, pool: string, sid: number, share: string, message: AppMessage): void {
  w.u8(R_REDISPATCH);
  w.str(pool);
  w.u32(sid);
  w.str(share);
  writeAppMessage(w, message);
}

export function writePresence(w: BatchWriter, sid: number, online: boolean): void {
  w.u8(R_PRESENCE);
  w.u32(sid);
  w.u8(online ? 1 : 0);
}

export function writeHookCall(w: BatchWriter, callId: number, hook: string, args: string): void {
  w.u8(R_HOOK_CALL);
  w.u32(callId);
  w.str(hook);
  w.str(args);
}

/** Flags of a disconnectClient frame: which optional properties follow the reason code. */
const D_REASON_STRING = 1,
  D_SERVER_REFERENCE = 2;

export function writeDisconnectClient(w: BatchWriter, requestId: number, pool: string, clientId: string, request: ServerDisconnect): void {
  const { reasonCode, reasonString, serverReference } = request;
  w.u8(R_DISCONNECT_CLIENT);
  w.u32(requestId);
  w.str(pool);
  w.str(clientId);
  w.u8(reasonCode);
  w.u8((reasonString !== undefined ? D_REASON_STRING : 0) | (serverReference !== undefined ? D_SERVER_REFERENCE : 0));
  if (reasonString !== undefined) w.str(reasonString);
  if (serverReference !== undefined) w.str(serverReference);
}

function readDisconnectClient(r: BatchReader): ToRouter {
  const requestId = r.u32();
  const pool = r.str();
  const clientId = r.str();
  const request: ServerDisconnect = { reasonCode: r.u8() };
  const flags = r.u8();
  if (flags & D_REASON_STRING) request.reasonString = r.str();
  if (flags & D_SERVER_REFERENCE) request.serverReference = r.str();
  return { kind: 'disconnectClient', requestId, pool, clientId, request };
}

export function readToRouter(r: BatchReader): ToRouter {
  const kind = r.u8();
  switch (kind) {
    case R_SEND:
      return { kind: 'send', connId: r.u32(), bytes: r.bytes() };
    case R_SEND_SHARED: {
      const connIds = new Array<number>(r.u32());
      for (let i = 0; i < connIds.length; i++) connIds[i] = r.u32();
      return { kind: 'sendShared', connIds, bytes: r.bytes() };
    }
    case R_PUBLISH:
      return { kind: 'publish', pool: r.str(), sid: r.u32(), ackId: r.u32(), message: readAppMessage(r) };
    case R_END:
      return { kind: 'end', connId: r.u32() };
    case R_THROTTLE:
      return { kind: 'throttle', connId: r.u32(), ms: r.u32() };
    case R_ACCEPTED:
      return { kind: 'accepted', connId: r.u32(), keepalive: r.u32(), maxPacketSize: r.u32(), maxOutgoingPacketSize: r.u32() };
    case R_MOVE_CONNECT:
      return { kind: 'moveConnect', connId: r.u32(), host: r.u32() };
    case R_CLAIM_SESSION:
      return { kind: 'claimSession', connId: r.u32(), pool: r.str(), clientId: r.str() };
    case R_SESSION_RELEASED:
      return { kind: 'sessionReleased', pool: r.str(), clientId: r.str(), claim: r.u32() };
    case R_CONNECT_RELEASED: {
      const open = readOpenBody(r);
      const held: Buffer[] = new Array(r.u32());
      for (let i = 0; i < held.length; i++) held[i] = r.bytes();
      return { kind: 'connectReleased', open, held };
    }
    case R_SUBSCRIBE: {
      const pool = r.str();
      const sid = r.u32();
      const filter = r.str();
      const flags = r.u8();
      return {
        kind: 'subscribe',
        pool,
        sid,
        filter,
        qos: (flags & 3) as QoS,
        noLocal: (flags & 4) !== 0,
        retainAsPublished: (flags & 8) !== 0,
        sendRetained: (flags & 16) !== 0,
        subscriptionId: r.u32(),
      };
    }
    case R_UNSUBSCRIBE:
      return { kind: 'unsubscribe', pool: r.str(), sid: r.u32(), filter: r.str() };
    case R_SESSION_ENDED:
      return { kind: 'sessionEnded', sid: r.u32() };
    case R_CREDIT:
      return { kind: 'credit', batches: r.u32() };
    case R_COMMITTED: {
      const ok = r.u8() === 1;
      const tokens: number[] = new Array(r.u32());
      for (let i = 0; i < tokens.length; i++) tokens[i] = r.u32();
      return { kind: 'committed', tokens, ok };
    }
    case R_REDISPATCH:
      return { kind: 'redispatch', pool: r.str(), sid: r.u32(), share: r.str(), message: readAppMessage(r) };
    case R_PRESENCE:
      return { kind: 'presence', sid: r.u32(), online: r.u8() === 1 };
    case R_HOOK_CALL:
      return { kind: 'hookCall', callId: r.u32(), hook: r.str(), args: r.str() };
    case R_EVENT:
      return { kind: 'event', ...(JSON.parse(r.str()) as SessionEvent) };
    case R_DISCONNECT_CLIENT:
      return readDisconnectClient(r);
    default:
      throw new Error(`unknown ToRouter frame kind ${kind}`);
  }
}
