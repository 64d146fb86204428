/**
 * The broker on the main thread: owns the listeners, every client
 * connection, the sharded topic router, the in-process plugins
 * (`addPlugin`), and the handles of the actor hosts (worker threads, or
 * inline with `workers: 0`). It moves data-plane batches between
 * connections, router and hosts, serves the hosts' hookCall frames, and never
 * awaits on that path.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import type { AppMessage, MessageProperties, QoS } from '../shared/message/app-message.js';
import { BatchReader } from '../shared/channel/batch-reader.js';
import { Outbox } from '../shared/channel/outbox.js';
import { peekConnect } from './net/connect-peek.js';
import { ReasonCode } from '../shared/codec/reason-codes.js';
import { resolveConfig, type BrokerConfig } from '../api/config.js';
import type { HostHandle, HostLauncher } from './hosts/host-handle.js';
import type { HostStats } from '../shared/channel/host-control.js';
import { InlineHosts } from './hosts/inline-hosts.js';
import { hostFor } from './hosts/placement.js';
import { WorkerHosts } from './hosts/worker-hosts.js';
import { PluginRegistry } from './hooks/registry.js';
import type { Plugin } from '../api/hooks.js';
import { createLogger, type Logger } from '../shared/log.js';
import {
  readToRouter, writeClosed, writeDeliver, writeDropped, writeHookResult, writeOpen, writePacket, writePlugins, type ToRouter, type TransportDropReason, type TransportInfo,
} from '../shared/channel/frames.js';
import { Connection, type ConnectionOwner } from './net/connection.js';
import { startTlsListener, startWssListener } from './net/tls-listener.js';
import { attachWebSocket, startWebSocketListener, type AcceptStream, type Listener } from './net/ws-listener.js';
import { DEFAULT_POOL, isValidTopicName } from '../shared/topic/topic.js';
import { Router, type RouterStats } from './router/router.js';
import { serverDisconnect, serverRedirect, type CloseOptions, type DisconnectClientOptions } from './server-disconnect.js';
import { expiryDeadline } from '../shared/message/expiry.js';

const CONNECT = 1;
/** How often keepalive and connect deadlines are checked, in ms. */
const SWEEP_INTERVAL_MS = 250;
/** How long close() waits for a host to tell its clients goodbye before its worker is stopped anyway, in ms. */
const HOST_SHUTDOWN_TIMEOUT_MS = 5000;

export interface PublishOptions {
  topic: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
  properties?: MessageProperties;
}

/** Addresses of the started listeners, by transport. */
export interface BrokerAddresses { tcp?: AddressInfo; ws?: AddressInfo; tls?: AddressInfo; wss?: AddressInfo }

export interface BrokerStats {
  connections: number;
  router: RouterStats;
  hosts: HostStats[];
  /** QoS 0 PUBLISHes the main thread dropped (their client did not read fast enough, maxConnectionBufferBytes; or one grew over its Maximum Packet Size when a missed Topic Alias's topic was added back), closed connections included. */
  droppedQos0: number;
}

export class Broker extends EventEmitter {
  readonly config: BrokerConfig;
  readonly log: Logger;
  private readonly launcher: HostLauncher;
  private readonly plugins: PluginRegistry;
  private readonly hosts: HostHandle[] = [];
  private readonly outboxes: Outbox[] = [];
  /** Per host: batches it reported handled, and whether its clients' reads are paused. */
  private readonly credited: number[] = [];
  private readonly paused: boolean[] = [];
  private readonly router: Router;
  private readonly connections = new Map<number, Connection>();
  private readonly corked: Connection[] = [];
  private readonly owner: ConnectionOwner;
  private server: Server | undefined;
  /** Optional listeners (WebSocket, TLS, WSS) and WebSocket endpoints attached to the application's servers. */
  private readonly transports: Listener[] = [];
  private readonly acceptStream: AcceptStream = (stream, transport) => this.accept(stream, transport);
  private sweeper: NodeJS.Timeout | undefined;
  private nextConnId = 1;
  /** A plugin implements on_message_drop: QoS 0 drops on this thread are handed to the session's host. */
  private reportDrops = false;
  /** Every host loaded its module plugins and runtime (hostsReady()). */
  private ready: Promise<void> | undefined;
  /** QoS 0 drops (slow consumers) of connections already closed. */
  private droppedQos0Closed = 0;
  private listening = false;
  private closing = false;

  constructor(options: Partial<BrokerConfig> = {}) {
    super();
    this.config = resolveConfig(options);
    this.log = createLogger(this.config.logLevel, 'main');
    this.plugins = new PluginRegistry(this.log.child({ plugins: 'in-process' }));
    const hostCount = Math.max(1, this.config.workers);
    this.launcher = this.config.workers === 0 ? new InlineHosts(this.config, this.log, this.plugins.plugins) : new WorkerHosts(this.config);
    this.router = new Router(hostCount, (host, message, targets) => {
      const outbox = this.outboxes[host] as Outbox;
      writeDeliver(outbox.writer, message, targets);
      outbox.commit();
    }, this.config.maxRetainedMemory, this.config.sharedSubscriptionStrategy);
    this.owner = {
      onPacket: (conn, packet) => this.onPacket(conn, packet),
      onClose: (conn, reason) => this.onClose(conn, reason),
      corked: (conn) => { this.corked.push(conn); },
      droppedQos0: (conn, packet, reason) => this.onDroppedQos0(conn, packet, reason),
    };
    for (let i = 0; i < hostCount; i++) this.startHost(i);
  }

  /**
   * Starts the TCP listener and the optional ones the config enables (wsPort,
   * tlsPort, wssPort); resolves with the TCP address (see addresses()). With
   * `proxyProtocol`, TCP connections start with a PROXY protocol header.
   */
  async listen(): Promise<AddressInfo> {
    this.listening = true;
    // A module plugin or runtime that fails to load makes listen() fail, before any client is accepted.
    await this.hostsReady();
    const server = createServer({ noDelay: true }, (socket) => {
      this.accept(socket, { type: 'tcp', remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 }, this.config.proxyProtocol);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    const address = server.address() as AddressInfo;
    this.log.info({ host: address.address, port: address.port, workers: this.config.workers, proxyProtocol: this.config.proxyProtocol }, 'listening');
    try {
      const { wsPort, tlsPort, wssPort } = this.config;
      if (wsPort >= 0) this.transports.push(await startWebSocketListener(this.config, this.acceptStream, this.log));
      if (tlsPort >= 0) this.transports.push(await startTlsListener(this.config, this.acceptStream, this.log));
      if (wssPort >= 0) this.transports.push(await startWssListener(this.config, this.acceptStream, this.log));
    } catch (err) {
      await Promise.all(this.transports.splice(0).map((l) => l.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.server = undefined;
      throw err;
    }
    this.startSweeper();
    return address;
  }

  /** Addresses of the started listeners; a listener that is off has none. */
  addresses(): BrokerAddresses {
    const addresses: BrokerAddresses = {};
    const tcp = this.server?.address();
    if (tcp && typeof tcp === 'object') addresses.tcp = tcp;
    for (const listener of this.transports) {
      const address = listener.address();
      if (address) addresses[listener.type] = address;
    }
    return addresses;
  }

  /**
   * Serves MQTT over WebSocket on `path` (default `wsPath`) of an HTTP or
   * HTTPS server of the embedding application (`wss` for HTTPS). Upgrades
   * on other paths are left to the application. Detached by close().
   */
  attachWebSocket(server: HttpServer | HttpsServer, path: string = this.config.wsPath): void {
    if (!path.startsWith('/')) throw new TypeError(`attachWebSocket: path must start with '/', got ${JSON.stringify(path)}`);
    const type = server instanceof TlsServer ? 'wss' : 'ws';
    this.transports.push(attachWebSocket(server, {
      path, type, maxPayload: this.config.maxIncomingPacketSize, accept: this.acceptStream, log: this.log, exclusive: false,
    }));
    this.hostsReady().catch((err: unknown) => this.log.error({ err }, 'loading the plugin modules or the runtime failed'));
    this.startSweeper();
  }

  /**
   * Adds an in-process plugin: an object of hook functions (README "Writing a
   * plugin"), called in this thread. Its hooks run after those of the module
   * plugins (`config.plugins`), in the order plugins were added. Only before
   * listen().
   */
  addPlugin(plugin: Plugin): void {
    if (this.listening) throw new Error('addPlugin: call it before listen()');
    this.plugins.add(plugin);
    if (typeof plugin.on_message_drop === 'function') this.reportDrops = true;
    for (let host = 0; host < this.hosts.length; host++) this.sendPlugins(host);
  }

  /** Publishes a message from the embedding application, as if a client had sent it. */
  async publish(options: PublishOptions): Promise<void> {
    if (!isValidTopicName(options.topic)) throw new TypeError(`invalid topic name: ${options.topic}`);
    const payload = typeof options.payload === 'string' ? Buffer.from(options.payload) : options.payload;
    const message: AppMessage = { topic: options.topic, payload, qos: options.qos ?? 0, retain: options.retain ?? false };
    if (options.properties) {
      const { messageExpiryInterval, ...properties } = options.properties;
      if (messageExpiryInterval !== undefined) {
        if (!Number.isInteger(messageExpiryInterval) || messageExpiryInterval < 0 || messageExpiryInterval > 0xffffffff) {
          throw new RangeError(`publish: properties.messageExpiryInterval ${messageExpiryInterval} is not a whole number of seconds in 0..4294967295`);
        }
        message.expiresAt = expiryDeadline(messageExpiryInterval);
      }
      if (Object.keys(properties).length > 0) message.properties = properties;
    }
    this.router.route(DEFAULT_POOL, message, -1, 0);
  }

  async stats(): Promise<BrokerStats> {
    const hosts = await Promise.all(this.hosts.map((h) => h.control.stats()));
    let droppedQos0 = this.droppedQos0Closed;
    for (const conn of this.connections.values()) droppedQos0 += conn.droppedQos0;
    return { connections: this.connections.size, router: this.router.stats(), hosts, droppedQos0 };
  }

  /**
   * Disconnects the connected client `clientId` (of `options.pool`, default
   * ''), as the server: a 5.0 client gets DISCONNECT with `reasonCode`
   * (default 0x98 Administrative action), `reasonString` and
   * `serverReference`; a 3.1.1 client is just closed. Its will is published
   * and its session lives on per its expiry. Resolves with whether such a
   * client was connected. Throws on a reason code a server may not send in
   * DISCONNECT.
   */
  async disconnectClient(clientId: string, options: DisconnectClientOptions = {}): Promise<boolean> {
    if (typeof clientId !== 'string') throw new TypeError('disconnectClient: clientId must be a string');
    const request = serverDisconnect(options);
    if (this.closing) return false;
    const pool = options.pool ?? DEFAULT_POOL;
    // A plugin may have moved the session to another pool or client id than its placement's, so every host is asked.
    const found = await Promise.all(this.hosts.map((h) => h.control.disconnect(pool, clientId, request)));
    return found.includes(true);
  }

  /**
   * Graceful stop: no new connections, sessions tell their clients, sockets
   * close, hosts stop. 5.0 clients get DISCONNECT 0x8B Server shutting down;
   * with `serverReference` (a rolling restart, a move) 0x9C Use another
   * server, or 0x9D Server moved when `permanent`, with that Server Reference.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const redirect = serverRedirect(options);
    if (this.closing) return;
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const serverClosed = this.server ? new Promise<void>((resolve) => this.server?.close(() => resolve())) : Promise.resolve();
    for (const listener of this.transports) listener.stop();
    for (const outbox of this.outboxes) outbox.flush();
    await Promise.all(this.hosts.map((h) => withTimeout(h.control.shutdown(redirect), HOST_SHUTDOWN_TIMEOUT_MS)));
    await this.allConnectionsClosed(2000);
    for (const conn of this.connections.values()) conn.destroy('broker shutting down');
    for (const outbox of this.outboxes) outbox.close();
    await this.launcher.close();
    await serverClosed;
    await Promise.all(this.transports.map((l) => l.close()));
    this.log.info('closed');
  }

  private startHost(index: number): void {
    const handle = this.launcher.start(index);
    this.hosts[index] = handle;
    this.outboxes[index] = new Outbox(handle.endpoint, this.config);
    this.credited[index] = 0;
    this.paused[index] = false;
    if (this.plugins.plugins.length > 0) this.sendPlugins(index);
    handle.endpoint.onBatch((batch) => this.onHostBatch(index, batch));
    handle.exited.then(
      () => undefined,
      (err: unknown) => this.onHostFailed(index, handle, err),
    );
  }

  /** A worker died: its sessions are gone; their clients are disconnected and a new host takes the shard. */
  private onHostFailed(index: number, handle: HostHandle, err: unknown): void {
    if (this.closing || this.hosts[index] !== handle) return;
    this.log.error({ err, host: index }, 'actor host failed; restarting it and disconnecting its clients');
    handle.endpoint.close();
    this.router.clearHost(index);
    this.startHost(index);
    for (const conn of this.connections.values()) {
      if (conn.host === index) conn.destroy('actor host failed');
    }
    this.emit('host-failed', index, err);
  }

  /** Tells host `index` which hooks the in-process plugins implement. */
  private sendPlugins(index: number): void {
    const outbox = this.outboxes[index] as Outbox;
    writePlugins(outbox.writer, this.plugins.hookNames());
    outbox.commit();
  }

  /** Runs a host's hookCall in the in-process plugins; an all_till_ok chain's outcome goes back as hookResult. */
  private serveHookCall(host: number, msg: Extract<ToRouter, { kind: 'hookCall' }>): void {
    const outbox = this.outboxes[host] as Outbox;
    this.plugins.serve(msg.hook, msg.args, (result) => {
      if (msg.callId === 0 || this.outboxes[host] !== outbox) return; // the host was restarted meanwhile
      writeHookResult(outbox.writer, msg.callId, result);
      outbox.commit();
    });
  }

  /**
   * Resolves once every host has loaded its module plugins and runtime (at
   * once without any), and learns whether a module plugin implements
   * on_message_drop (the main thread then reports its QoS 0 drops).
   */
  private hostsReady(): Promise<void> {
    this.ready ??= (async () => {
      const loading = this.config.plugins.length > 0 || this.config.runtime !== '';
      const moduleHooks = loading ? await Promise.all(this.hosts.map((h) => h.control.ready())) : [];
      if (moduleHooks.flat().includes('on_message_drop')) this.reportDrops = true;
    })();
    return this.ready;
  }

  private startSweeper(): void {
    if (this.sweeper || this.closing) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** A new client byte stream from any listener: a TCP or TLS socket, or a WebSocket as a stream. */
  private accept(stream: Duplex, transport: TransportInfo, proxyProtocol = false): void {
    if (this.closing || (this.config.maxConnections > 0 && this.connections.size >= this.config.maxConnections)) {
      stream.destroy();
      return;
    }
    const conn = new Connection(
      this.nextConnId++ >>> 0, stream, transport, this.config.maxIncomingPacketSize, this.owner, this.log, this.config.maxConnectionBufferBytes,
      proxyProtocol,
    );
    this.connections.set(conn.id, conn);
  }

  private onPacket(conn: Connection, packet: Buffer): void {
    if (conn.host >= 0) {
      const outbox = this.outboxes[conn.host] as Outbox;
      writePacket(outbox.writer, conn.id, packet);
      outbox.commit();
      if (outbox.posted - (this.credited[conn.host] as number) > this.config.maxPendingBatches) this.pauseHost(conn.host);
      return;
    }
    if ((packet[0] as number) >> 4 !== CONNECT) {
      conn.destroy('first packet is not CONNECT [MQTT-3.1.0-1]');
      return;
    }
    let peeked;
    try {
      peeked = peekConnect(packet);
    } catch {
      conn.destroy('malformed CONNECT');
      return;
    }
    const clientIdAssigned = peeked.clientId === '';
    const clientId = clientIdAssigned ? `shoal-${randomBytes(8).toString('hex')}` : peeked.clientId;
    conn.protocolVersion = peeked.protocolVersion;
    conn.keepaliveMs = peeked.keepalive * 1000;
    conn.host = hostFor(DEFAULT_POOL, clientId, this.hosts.length);
    conn.connectAt = Date.now();
    const outbox = this.outboxes[conn.host] as Outbox;
    writeOpen(outbox.writer, { kind: 'open', connId: conn.id, clientId, clientIdAssigned, transport: conn.transport, packet });
    outbox.commit();
  }

  /** Hands a dropped QoS 0 PUBLISH to the session's host, for on_message_drop, when a plugin implements it. */
  private onDroppedQos0(conn: Connection, packet: Uint8Array, reason: TransportDropReason): void {
    if (!this.reportDrops || conn.host < 0) return;
    const outbox = this.outboxes[conn.host] as Outbox;
    writeDropped(outbox.writer, conn.id, reason, packet);
    outbox.commit();
  }

  private onClose(conn: Connection, reason: string): void {
    this.connections.delete(conn.id);
    this.droppedQos0Closed += conn.droppedQos0;
    if (this.connections.size === 0) this.emit('idle');
    if (conn.host < 0 || this.closing) return;
    const outbox = this.outboxes[conn.host] as Outbox;
    writeClosed(outbox.writer, conn.id, reason);
    outbox.commit();
  }

  private onHostBatch(host: number, batch: Buffer): void {
    const reader = new BatchReader(batch);
    while (!reader.done) this.handleFromHost(host, readToRouter(reader));
    const corked = this.corked;
    for (let i = 0; i < corked.length; i++) (corked[i] as Connection).uncork();
    corked.length = 0;
  }

  private handleFromHost(host: number, msg: ToRouter): void {
    switch (msg.kind) {
      case 'send': this.connections.get(msg.connId)?.write(msg.bytes); return;
      case 'publish': this.router.route(msg.pool, msg.message, host, msg.sid); return;
      case 'end': this.connections.get(msg.connId)?.end(); return;
      case 'accepted': {
        const conn = this.connections.get(msg.connId);
        if (!conn) return;
        conn.accepted = true;
        conn.keepaliveMs = msg.keepalive * 1000;
        if (msg.maxPacketSize > 0) conn.setMaxPacketSize(msg.maxPacketSize);
        conn.maxOutgoingPacketSize = msg.maxOutgoingPacketSize;
        return;
      }
      case 'subscribe': this.router.subscribe(host, msg); return;
      case 'unsubscribe': this.router.unsubscribe(host, msg.pool, msg.sid, msg.filter); return;
      case 'sessionEnded': this.router.drop(host, msg.sid); return;
      case 'event': this.emit(msg.name, msg.clientId, msg.detail); return;
      case 'credit': this.onCredit(host, msg.batches); return;
      case 'redispatch': this.router.redispatch(host, msg.pool, msg.sid, msg.share, msg.message); return;
      case 'presence': this.router.presence(host, msg.sid, msg.online); return;
      case 'hookCall': this.serveHookCall(host, msg); return;
    }
  }

  /** Inbound flow control: a host that falls behind stops its clients' reads until it catches up. */
  private pauseHost(host: number): void {
    if (this.paused[host]) return;
    this.paused[host] = true;
    for (const conn of this.connections.values()) if (conn.host === host) conn.pause();
  }

  private onCredit(host: number, batches: number): void {
    const credited = (this.credited[host] as number) + batches;
    this.credited[host] = credited;
    if (!this.paused[host]) return;
    if ((this.outboxes[host] as Outbox).posted - credited > this.config.maxPendingBatches / 2) return;
    this.paused[host] = false;
    for (const conn of this.connections.values()) if (conn.host === host) conn.resume();
  }

  /** Connect deadline for new connections, keepalive at 1.5x for accepted ones [MQTT-3.1.2-24]. */
  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections.values()) {
      if (!conn.accepted) {
        if (conn.host < 0) {
          if (now - conn.openedAt > this.config.connectTimeoutMs) conn.destroy('no CONNECT within connectTimeoutMs');
        } else if (now - conn.connectAt > this.config.handshakeTimeoutMs) {
          // An authentication exchange the client left, or hooks that never settled.
          this.log.info({ connId: conn.id }, 'no CONNACK within handshakeTimeoutMs of the CONNECT');
          conn.destroy('no CONNACK within handshakeTimeoutMs of the CONNECT');
        }
      } else if (conn.keepaliveMs > 0 && !this.paused[conn.host] && now - conn.lastActivity > conn.keepaliveMs * 1.5) {
        this.log.info({ connId: conn.id }, 'keepalive timeout');
        conn.abort(ReasonCode.KeepAliveTimeout, 'keepalive timeout');
      }
    }
  }

  private allConnectionsClosed(timeoutMs: number): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.once('idle', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Settles when `promise` settles or after `ms`, whichever comes first; never rejects. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

export function createBroker(options: Partial<BrokerConfig> = {}): Broker {
  return new Broker(options);
}
