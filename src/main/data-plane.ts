/**
 * The data plane of the main thread: moves batches between the client
 * connections, the topic router and the actor hosts. It owns one Outbox per
 * host, the inbound flow control (each host's credits; the clients of a host
 * that falls behind stop being read until it catches up), the CONNECTs that
 * move to the host owning their session (connect-moves.ts), the connections
 * corked during the host batch in hand, and the dispatch of every frame a
 * host sends: connection frames to the client's Connection, routing frames
 * to the Router, control frames to their owners (credits here, hookCalls to
 * the HookServer, session events to the broker and to its connection log,
 * connection-log.ts, a module plugin's disconnectClient to the broker and
 * its answer back). It is every Connection's owner, and makes the Router,
 * the connection registry and the HookServer it drives. Never awaits. Main
 * thread.
 */
import type { EventEmitter } from 'node:events';
import type { BrokerConfig } from '../api/config.js';
import type { AppMessage } from '../shared/message/app-message.js';
import { BatchReader } from '../shared/channel/batch-reader.js';
import type { BatchEndpoint } from '../shared/channel/endpoint.js';
import { Outbox } from '../shared/channel/outbox.js';
import {
  readToRouter,
  writeClosed,
  writeDeliver,
  writeDisconnectResult,
  writeDropped,
  writeOpen,
  writePacket,
  writeReleaseConnect,
  writeReleased,
  writeSessionClaimed,
  type DeliveryTarget,
  type OpenFrame,
  type ToRouter,
  type TransportDropReason,
} from '../shared/channel/frames.js';
import type { Logger } from '../shared/log.js';
import { Connections } from './connections.js';
import { HookServer } from './hooks/hook-server.js';
import type { PluginRegistry } from './hooks/registry.js';
import { hostCount } from '../shared/placement.js';
import { MOVING, type Connection, type ConnectionOwner } from './net/connection.js';
import { ConnectMoves } from './connect-moves.js';
import { Router } from './router/router.js';
import type { RetainedStore } from '../api/retained-store.js';
import { Acknowledgements } from './acknowledgements.js';
import { Traffic } from './net/traffic.js';
import type { BatchStats } from '../shared/channel/outbox.js';
import { logSessionEvent } from './connection-log.js';
import { closeCause } from '../shared/disconnect-cause.js';
import type { ServerDisconnect } from '../shared/channel/host-control.js';

/** The broker's disconnect of a validated request: whether the client of `pool` was connected. */
export type DisconnectClient = (pool: string, clientId: string, request: ServerDisconnect) => Promise<boolean>;

/** A cluster's ownership of the sessions, as the data plane asks it (src/main/cluster/session-ownership.ts). */
export interface SessionClaims {
  claim(pool: string, clientId: string): Promise<number>;
  release(pool: string, clientId: string, claim: number): void;
}

export class DataPlane implements ConnectionOwner {
  readonly router: Router;
  readonly connections: Connections;
  readonly hooks: HookServer;
  /** QoS 1/2 publishes of hosts with a session store, until every commit that keeps them is reported. */
  readonly acks = new Acknowledgements((host, ackId, ok) => this.released(host, ackId, ok));
  /** Packets and bytes of every connection, by type. */
  readonly traffic = new Traffic();
  /** A plugin implements on_message_drop: QoS 0 drops on this thread are handed to the session's host. */
  reportDrops = false;
  /**
   * In a cluster: makes this node the owner of a session a CONNECT registers,
   * its state handed over first, answering the claim's number (0 refuses the
   * CONNECT); and releases the ownership of a session that ended under a claim.
   */
  sessionClaims: SessionClaims | undefined;
  private readonly byId: ReadonlyMap<number, Connection>;
  private readonly outboxes: Outbox[] = [];
  /** Per host: batches it reported handled, and whether its clients' reads are paused. */
  private readonly credited: number[] = [];
  private readonly paused: boolean[] = [];
  /** CONNECTs moving to the host that owns their session, and the packets their connections send meanwhile. */
  private readonly moves = new ConnectMoves();
  /** Connections corked during the host batch in hand, uncorked at its end. */
  private readonly corkedConns: Connection[] = [];
  private closing = false;

  /** `events`: the broker, which emits the hosts' session events; `disconnectClient`: its disconnect, for module plugins. */
  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    plugins: PluginRegistry,
    private readonly events: EventEmitter,
    retainedStore: RetainedStore,
    private readonly disconnectClient: DisconnectClient,
  ) {
    const hosts = hostCount(config.workers);
    this.router = new Router(hosts, this.deliver, retainedStore, log, config.sharedSubscriptionStrategy);
    this.connections = new Connections(config, log, this, hosts, events, (now) => this.router.sweepRetained(now));
    this.byId = this.connections.byId;
    this.hooks = new HookServer(plugins, this.outboxes);
  }

  /** Host `index` (re)started on `endpoint`: a fresh outbox and credit count, and the in-process plugins' hooks. */
  attachHost(index: number, endpoint: BatchEndpoint): void {
    this.outboxes[index] = new Outbox(endpoint, this.config);
    this.credited[index] = 0;
    this.paused[index] = false;
    this.hooks.announce(index);
    endpoint.onBatch((batch) => this.onHostBatch(index, batch));
  }

  /** Host `index` failed: its sessions are gone, so are their subscriptions and their clients' connections. */
  hostFailed(index: number): void {
    this.acks.hostFailed(index);
    this.router.clearHost(index);
    this.connections.destroyHost(index, 'actor host failed');
    for (const conn of this.moves.lostHost(index)) conn.destroy('actor host failed');
  }

  /** A message of the embedding application, routed in `pool` as if a client had published it. */
  publish(pool: string, message: AppMessage): void {
    void this.router.route(pool, message, -1, 0);
  }

  /** The batches sent to each host so far (a restarted host's count starts afresh). */
  batchStats(): BatchStats[] {
    return this.outboxes.map((outbox) => outbox.batchStats());
  }

  /** Closing: what is batched goes out now; closed connections are no longer reported to their hosts. */
  stop(): void {
    this.closing = true;
    for (const outbox of this.outboxes) outbox.flush();
  }

  /** Flushes and closes every host's endpoint. */
  close(): void {
    for (const outbox of this.outboxes) outbox.close();
  }

  // ── from the connections ──────────────────────────────────────────────────

  onPacket(conn: Connection, packet: Buffer): void {
    const host = conn.host;
    if (host >= 0) {
      const outbox = this.outboxes[host] as Outbox;
      writePacket(outbox.writer, conn.id, packet);
      outbox.commit();
      if (outbox.posted - this.credited[host]! > this.config.maxPendingBatches) this.pauseHost(host);
      return;
    }
    if (host === MOVING) return this.moves.hold(conn, packet);
    const open = this.connections.place(conn, packet);
    if (open === undefined) return;
    const outbox = this.outboxes[conn.host]!;
    writeOpen(outbox.writer, open);
    outbox.commit();
    // A host that is behind has its clients' reads paused; a client placed on it meanwhile joins them.
    if (this.paused[conn.host]) conn.pause();
  }

  onClose(conn: Connection, reason: string): void {
    this.connections.remove(conn);
    if (conn.host === MOVING) return this.moves.abandon(conn);
    if (conn.host < 0 || this.closing) return;
    const outbox = this.outboxes[conn.host] as Outbox;
    writeClosed(outbox.writer, conn.id, { cause: closeCause(conn.closeCode), reason });
    outbox.commit();
  }

  corked(conn: Connection): void {
    this.corkedConns.push(conn);
  }

  /** Hands a dropped QoS 0 PUBLISH to the session's host, for on_message_drop, when a plugin implements it. */
  droppedQos0(conn: Connection, packet: Uint8Array, reason: TransportDropReason): void {
    if (!this.reportDrops || conn.host < 0) return;
    const outbox = this.outboxes[conn.host] as Outbox;
    writeDropped(outbox.writer, conn.id, reason, packet);
    outbox.commit();
  }

  // ── from the router ───────────────────────────────────────────────────────

  /** The Router's delivery sink: one deliver frame for the host that owns the targets. */
  private readonly deliver = (host: number, message: AppMessage, targets: DeliveryTarget[]): void => {
    const outbox = this.outboxes[host] as Outbox;
    writeDeliver(outbox.writer, message, targets, this.acks.tokenFor(host));
    outbox.commit();
  };

  /** The publish `ackId` of `host` is kept everywhere (or failed to be): its host may acknowledge it. */
  private released(host: number, ackId: number, ok: boolean): void {
    const outbox = this.outboxes[host];
    if (outbox === undefined) return;
    writeReleased(outbox.writer, ackId, ok);
    outbox.commit();
  }

  // ── from the hosts ────────────────────────────────────────────────────────

  /** A host's batch: every frame dispatched, then the connections it wrote to are uncorked, once each. */
  private onHostBatch(host: number, batch: Buffer): void {
    const reader = new BatchReader(batch);
    while (!reader.done) this.dispatch(host, readToRouter(reader));
    const corked = this.corkedConns;
    for (let i = 0; i < corked.length; i++) corked[i]!.uncork();
    corked.length = 0;
  }

  private dispatch(host: number, msg: ToRouter): void {
    switch (msg.kind) {
      // Connection frames: to the client's connection.
      case 'send':
        this.byId.get(msg.connId)?.write(msg.bytes);
        return;
      case 'sendShared': {
        const { connIds, bytes } = msg;
        for (let i = 0; i < connIds.length; i++) this.byId.get(connIds[i]!)?.write(bytes);
        return;
      }
      case 'end':
        this.byId.get(msg.connId)?.end();
        return;
      case 'throttle':
        this.byId.get(msg.connId)?.throttle(msg.ms);
        return;
      case 'accepted':
        this.accepted(msg.connId, msg.keepalive, msg.maxPacketSize, msg.maxOutgoingPacketSize);
        return;
      case 'moveConnect':
        this.moveConnect(host, msg.connId, msg.host);
        return;
      case 'connectReleased':
        this.connectReleased(msg.open, msg.held);
        return;
      case 'claimSession':
        this.claimSession(host, msg.connId, msg.pool, msg.clientId);
        return;
      case 'sessionReleased':
        this.sessionClaims?.release(msg.pool, msg.clientId, msg.claim);
        return;
      // Routing frames: to the router.
      case 'publish':
        this.publishFromHost(host, msg.pool, msg.sid, msg.message, msg.ackId);
        return;
      case 'subscribe':
        this.router.subscribe(host, msg);
        return;
      case 'unsubscribe':
        this.router.unsubscribe(host, msg.pool, msg.sid, msg.filter);
        return;
      case 'sessionEnded':
        this.router.drop(host, msg.sid);
        return;
      case 'redispatch':
        this.router.redispatch(host, msg.pool, msg.sid, msg.share, msg.message);
        return;
      case 'presence':
        this.router.presence(host, msg.sid, msg.online);
        return;
      // Control frames: to their owners.
      case 'credit':
        this.onCredit(host, msg.batches);
        return;
      case 'committed':
        this.acks.committed(host, msg.tokens, msg.ok);
        return;
      case 'hookCall':
        this.hooks.serve(host, msg);
        return;
      case 'event':
        logSessionEvent(this.log, msg);
        this.events.emit(msg.name, msg.clientId, msg.detail);
        return;
      case 'disconnectClient':
        this.disconnectForPlugin(host, msg.requestId, msg.pool, msg.clientId, msg.request);
        return;
    }
  }

  /** A module plugin of `host` disconnects a client: the broker's own disconnect, answered to that host unless it was replaced meanwhile. */
  private disconnectForPlugin(host: number, requestId: number, pool: string, clientId: string, request: ServerDisconnect): void {
    const outbox = this.outboxes[host]!;
    const answer = (connected: boolean): void => {
      if (this.closing || this.outboxes[host] !== outbox) return;
      writeDisconnectResult(outbox.writer, requestId, connected);
      outbox.commit();
    };
    this.disconnectClient(pool, clientId, request).then(answer, (err: unknown) => {
      this.log.warn({ err, clientId, pool, host }, "a module plugin's disconnectClient failed");
      answer(false);
    });
  }

  /** Makes this node the owner of a session a CONNECT of `host` registers (sessionClaims, in a cluster), then tells the host. */
  private claimSession(host: number, connId: number, pool: string, clientId: string): void {
    const outbox = this.outboxes[host]!;
    const answer = (claim: number): void => {
      if (this.closing || this.outboxes[host] !== outbox) return;
      writeSessionClaimed(outbox.writer, connId, claim);
      outbox.commit();
    };
    const claims = this.sessionClaims;
    if (claims === undefined) return answer(0);
    claims.claim(pool, clientId).then(answer, (err: unknown) => {
      this.log.error({ err, pool, clientId }, 'claiming a session in the cluster failed');
      answer(0);
    });
  }

  /** A client's message; one with an `ackId` is followed until every commit that keeps it is reported. */
  private publishFromHost(host: number, pool: string, sid: number, message: AppMessage, ackId: number): void {
    if (ackId === 0) {
      void this.router.route(pool, message, host, sid);
      return;
    }
    this.acks.routingStarts(host, ackId);
    const stored = this.router.route(pool, message, host, sid);
    if (stored) this.acks.waitFor(stored);
    this.acks.routed();
  }

  /** CONNACK 0x00 went out: the connection's keepalive and packet size limits are the session's from now on. */
  private accepted(connId: number, keepalive: number, maxPacketSize: number, maxOutgoingPacketSize: number): void {
    const conn = this.byId.get(connId);
    if (!conn) return;
    conn.accepted = true;
    conn.keepaliveMs = keepalive * 1000;
    if (maxPacketSize > 0) conn.setMaxPacketSize(maxPacketSize);
    conn.maxOutgoingPacketSize = maxOutgoingPacketSize;
  }

  /**
   * Host `from` found that the session the CONNECT of `connId` registers is
   * host `to`'s: the connection's packets wait here from now on, and `from`
   * is asked to release the CONNECT (after every packet already sent to it).
   */
  private moveConnect(from: number, connId: number, to: number): void {
    const conn = this.byId.get(connId);
    if (conn === undefined || conn.host !== from || this.outboxes[to] === undefined) return;
    this.moves.start(conn, from, to);
    const outbox = this.outboxes[from]!;
    writeReleaseConnect(outbox.writer, connId);
    outbox.commit();
  }

  /** The CONNECT was released: its new host gets it, then the packets the old one held, then those that waited here. */
  private connectReleased(open: OpenFrame, held: readonly Buffer[]): void {
    const move = this.moves.finish(open.connId);
    if (move === undefined) return;
    const { conn, to } = move;
    const outbox = this.outboxes[to]!;
    writeOpen(outbox.writer, open);
    for (const packet of held) writePacket(outbox.writer, conn.id, packet);
    for (const packet of move.queued) writePacket(outbox.writer, conn.id, packet);
    outbox.commit();
    if (this.paused[to]) conn.pause();
  }

  /** Inbound flow control: a host that falls behind stops its clients' reads until it catches up. */
  private pauseHost(host: number): void {
    if (this.paused[host]) return;
    this.paused[host] = true;
    this.connections.pauseHost(host);
  }

  private onCredit(host: number, batches: number): void {
    const credited = this.credited[host]! + batches;
    this.credited[host] = credited;
    if (!this.paused[host]) return;
    if (this.outboxes[host]!.posted - credited > this.config.maxPendingBatches / 2) return;
    this.paused[host] = false;
    this.connections.resumeHost(host);
  }
}
