/**
 * The client connections of the broker: the registry by connection id, the
 * admission of a new byte stream (maxConnections; none once closing), the
 * CONNECT peek that places a session on its actor host, the pausing and
 * resuming of one host's clients, and the sweep of connect, handshake and
 * keepalive deadlines. It emits 'idle' on the broker when the last
 * connection closes. Main thread.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { BrokerConfig } from '../api/config.js';
import type { OpenFrame, TransportInfo } from '../shared/channel/frames.js';
import { ReasonCode } from '../shared/codec/reason-codes.js';
import type { Logger } from '../shared/log.js';
import { DEFAULT_POOL } from '../shared/topic/topic.js';
import type { TransportName } from '../shared/transport.js';
import { hostFor } from '../shared/placement.js';
import { peekConnect } from './net/connect-peek.js';
import { Connection, type ConnectionOwner } from './net/connection.js';

const CONNECT = 1;
/** How often keepalive and connect deadlines are checked, and expired retained messages swept, in ms. */
const SWEEP_INTERVAL_MS = 250;

/** How many open connections have one transport and protocol level (3: 3.1, 4: 3.1.1, 5: 5.0, 0: no CONNECT yet). */
export interface ConnectionCount {
  transport: TransportName;
  protocolVersion: number;
  count: number;
}

export class Connections {
  /** Every open connection by id; the data plane looks up the target of each host frame here. */
  readonly byId = new Map<number, Connection>();
  private nextId = 1;
  /** QoS 0 drops (slow consumers) of connections already closed. */
  private droppedQos0Closed = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closing = false;

  /** `owner` gets every connection's packets and close; `events` (the broker) gets 'idle'. */
  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    private readonly owner: ConnectionOwner,
    private readonly hostCount: number,
    private readonly events: EventEmitter,
    /** Called at the end of every sweep with its clock: the router sweeps expired retained messages. */
    private readonly onSweep: (now: number) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** QoS 0 PUBLISHes the main thread dropped, closed connections included. */
  droppedQos0(): number {
    let dropped = this.droppedQos0Closed;
    for (const conn of this.byId.values()) dropped += conn.droppedQos0;
    return dropped;
  }

  /** The open connections by transport and protocol level (0: no CONNECT yet). */
  census(): ConnectionCount[] {
    const counts = new Map<string, ConnectionCount>();
    for (const conn of this.byId.values()) {
      const { type } = conn.transport;
      const key = `${type}/${conn.protocolVersion}`;
      const entry = counts.get(key);
      if (entry) entry.count++;
      else counts.set(key, { transport: type, protocolVersion: conn.protocolVersion, count: 1 });
    }
    return [...counts.values()];
  }

  /**
   * A new client byte stream from any listener or from `Broker.handle`; with
   * `proxyProtocol` it starts with a PROXY protocol header. Destroyed at once
   * while closing or at maxConnections.
   */
  readonly accept = (stream: Duplex, transport: TransportInfo, proxyProtocol = false): void => {
    // A stream already destroyed (its peer left before the application handed it over) would never report its close.
    if (stream.destroyed || this.closing || (this.config.maxConnections > 0 && this.byId.size >= this.config.maxConnections)) {
      stream.destroy();
      return;
    }
    const conn = new Connection(
      this.nextId++ >>> 0,
      stream,
      transport,
      this.config.maxIncomingPacketSize,
      this.owner,
      this.log,
      this.config.maxConnectionBufferBytes,
      proxyProtocol,
    );
    this.byId.set(conn.id, conn);
  };

  /**
   * The first packet of a connection: a CONNECT is peeked for its client id
   * (one is assigned when empty) and the session placed on its host; returns
   * the `open` frame for that host. Anything else closes the connection.
   */
  place(conn: Connection, packet: Buffer): OpenFrame | undefined {
    if (packet[0]! >> 4 !== CONNECT) {
      conn.destroy('first packet is not CONNECT [MQTT-3.1.0-1]');
      return undefined;
    }
    let peeked;
    try {
      peeked = peekConnect(packet);
    } catch {
      conn.destroy('malformed CONNECT');
      return undefined;
    }
    const clientIdAssigned = peeked.clientId === '';
    const clientId = clientIdAssigned ? `shoal-${randomBytes(8).toString('hex')}` : peeked.clientId;
    conn.protocolVersion = peeked.protocolVersion;
    conn.keepaliveMs = peeked.keepalive * 1000;
    conn.host = hostFor(DEFAULT_POOL, clientId, this.hostCount);
    conn.connectAt = Date.now();
    return { kind: 'open', connId: conn.id, clientId, clientIdAssigned, transport: conn.transport, packet };
  }

  /** The connection closed: it leaves the registry; 'idle' when it was the last. */
  remove(conn: Connection): void {
    this.byId.delete(conn.id);
    this.droppedQos0Closed += conn.droppedQos0;
    if (this.byId.size === 0) this.events.emit('idle');
  }

  /** Inbound flow control: host `host` fell behind, its clients' reads stop. */
  pauseHost(host: number): void {
    for (const conn of this.byId.values()) if (conn.host === host) conn.pause();
  }

  resumeHost(host: number): void {
    for (const conn of this.byId.values()) if (conn.host === host) conn.resume();
  }

  /** Closes every connection served by host `host` (its sessions are gone). */
  destroyHost(host: number, reason: string): void {
    for (const conn of this.byId.values()) if (conn.host === host) conn.destroy(reason);
  }

  /** Starts checking the deadlines (once; not after stop()). */
  startSweeper(): void {
    if (this.sweeper || this.closing) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** No new connections, no more deadline checks; open connections stay. */
  stop(): void {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Waits up to `timeoutMs` for every connection to close, then destroys the rest with `reason`. */
  async closeAll(timeoutMs: number, reason: string): Promise<void> {
    if (this.byId.size > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.events.off('idle', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        this.events.once('idle', done);
      });
    }
    for (const conn of this.byId.values()) conn.destroy(reason);
  }

  /** Connect deadline for new connections, keepalive at 1.5x for accepted ones [MQTT-3.1.2-24], not while reads are paused. */
  private sweep(): void {
    const now = Date.now();
    for (const conn of this.byId.values()) {
      if (!conn.accepted) {
        if (conn.connectAt === 0) {
          if (now - conn.openedAt > this.config.connectTimeoutMs) conn.destroy('no CONNECT within connectTimeoutMs');
        } else if (now - conn.connectAt > this.config.handshakeTimeoutMs) {
          // An authentication exchange the client left, or hooks that never settled.
          this.log.info({ connId: conn.id }, 'no CONNACK within handshakeTimeoutMs of the CONNECT');
          conn.destroy('no CONNACK within handshakeTimeoutMs of the CONNECT');
        }
      } else if (conn.keepaliveMs > 0 && !conn.paused && now - conn.lastActivity > conn.keepaliveMs * 1.5) {
        this.log.info({ connId: conn.id }, 'keepalive timeout');
        conn.abort(ReasonCode.KeepAliveTimeout, 'keepalive timeout');
      }
    }
    this.onSweep(now);
  }
}
