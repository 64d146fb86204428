/**
 * The broker's public face on the main thread: the embedding API
 * (`createBroker`, `listen`, `handle`, `attachWebSocket`, `addPlugin`,
 * `publish`, `subscribe`, `unsubscribe`, `disconnectClient`, `attachBridge`,
 * `routeFromBridge`, `retainFromBridge`, `stats`, `topSessions`, `readiness`, `addresses`,
 * `close`) and its typed events ('client-connected', 'client-refused',
 * 'client-disconnected', 'host-failed', 'idle': BrokerEvents), and its
 * main-thread logger: the application's (`logger`), or its own from
 * `logLevel` and `logFormat`. It wires the parts that do
 * the work and adds no step of its own to the data path: the storage of its
 * data directory (store/storage.ts), the data plane (data-plane.ts:
 * connections, router, hosts' batches), the host supervisor
 * (hosts/supervisor.ts), the listeners (listeners.ts) and the in-process
 * plugins (hooks/registry.ts), the `$SYS` tree and the monitoring HTTP
 * server (observe/), and the membership of a cluster on NATS that
 * `cluster` configures (cluster/, joined in listen() before any listener).
 */
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { AppMessage, MessageProperties, QoS } from '../shared/message/app-message.js';
import { anonymousAllowed, type BrokerConfig, type ConfigOptions } from '../api/config.js';
import { resolveConfig } from '../api/config-schema.js';
import type { Plugin } from '../api/hooks.js';
import { createLogger, resolveLogFormat, type Logger } from '../shared/log.js';
import { expiryDeadline } from '../shared/message/expiry.js';
import { isLoopbackHost } from '../shared/loopback.js';
import { DEFAULT_POOL, isValidTopicFilter, isValidTopicName, parseSharedFilter } from '../shared/topic/topic.js';
import type { SessionEventDetails, SessionEventName } from '../shared/channel/frames.js';
import type { MessageHandler } from './router/app-subscribers.js';
import type { BridgeRouteOptions } from './router/router.js';
import { TRANSPORT_NAMES, type TransportInfo } from '../shared/transport.js';
import { DataPlane } from './data-plane.js';
import { PluginRegistry } from './hooks/registry.js';
import { HostSupervisor } from './hosts/supervisor.js';
import { Listeners, type BrokerAddresses } from './listeners.js';
import { transportOf } from './net/connection.js';
import { serverDisconnect, serverRedirect, type CloseOptions, type DisconnectClientOptions } from '../api/server-disconnect.js';
import type { BrokerDependencies } from '../api/dependencies.js';
import type { ServerDisconnect } from '../shared/channel/host-control.js';
import type { RouterBridge } from '../api/bridge.js';
import { MemoryRetainedStore } from './router/retained-store.js';
import { Cluster } from './cluster/cluster.js';
import { BrokerStorage } from './store/storage.js';
import { SysTree } from './observe/sys-tree.js';
import { MonitorServer } from './observe/monitor-server.js';
import { ThreadLoad } from '../shared/thread-load.js';
import type { BrokerStats, BrokerWatch, Readiness, SessionSummary, TopSessionsOptions } from './broker-stats.js';

/** How long close() waits for the clients to go once their hosts said goodbye, before destroying the rest, in ms. */
const CLIENTS_CLOSE_TIMEOUT_MS = 2000;

export interface PublishOptions {
  topic: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
  properties?: MessageProperties;
}

export interface SubscribeOptions {
  /** The highest QoS the handler gets messages at (default 2: as published). */
  qos?: QoS;
  /** The pool (mountpoint) to listen in (default '': the default pool). */
  pool?: string;
  /** Whether the matching retained messages are handed over first (default false). */
  retained?: boolean;
}

/** The broker's events and the arguments their listeners get. */
export type BrokerEvents = { [N in SessionEventName]: [clientId: string, detail: SessionEventDetails[N]] } & {
  /** Actor host `host` (a worker) failed: its sessions' connections were closed and a replacement started. */
  'host-failed': [host: number, err: Error];
  /** The last client connection closed. */
  idle: [];
};

/** The most sessions one `topSessions` call answers. */
const TOP_SESSIONS_MAX = 1000;

/** createBroker's options: any configuration field, and the application's own logger. */
export interface BrokerOptions extends ConfigOptions {
  /**
   * The application's pino logger: the broker's main-thread records go to a
   * child of it (`thread: 'main'`), at its level, instead of the broker's own
   * logger. Not a configuration field: worker threads keep their own, from
   * `logLevel` and `logFormat`.
   */
  logger?: Logger;
}

export class Broker extends EventEmitter<BrokerEvents> implements BrokerWatch {
  readonly config: BrokerConfig;
  readonly log: Logger;
  private readonly plugins: PluginRegistry;
  private readonly dataPlane: DataPlane;
  private readonly hosts: HostSupervisor;
  private readonly transports: Listeners;
  /** The `$SYS/broker/...` figures, published every sysInterval once listening. */
  private readonly sys: SysTree;
  /** `/metrics`, `/healthz`, `/readyz` and the status page, on metricsPort once listening. */
  private readonly monitor: MonitorServer;
  /** The main thread's event loop and GC figures. */
  private readonly load = new ThreadLoad();
  private readonly startedAt = Date.now();
  /** config.dataDir and what is kept there, opened before the hosts start; a directory that failed makes listen() reject. */
  private readonly storage: BrokerStorage;
  /** This node's membership of the cluster (config.cluster), once listen() joined it. */
  private cluster: Cluster | undefined;
  /** Every host loaded its module plugins and runtime (hostsReady()). */
  private ready: Promise<void> | undefined;
  private closing = false;

  /** `dependencies`: what the broker keeps its state in, where the application brings its own (default: in memory). */
  constructor(options: BrokerOptions = {}, dependencies: BrokerDependencies = {}) {
    super();
    const { logger, ...fields } = options;
    this.config = resolveConfig(fields);
    this.log = logger ? logger.child({ thread: 'main' }) : createLogger(this.config.logLevel, 'main', this.config.logFormat);
    this.plugins = new PluginRegistry(this.log.child({ plugins: 'in-process' }));
    this.storage = BrokerStorage.open(this.config, this.log, dependencies.retainedStore);
    const retainedStore =
      dependencies.retainedStore ??
      this.storage.retainedStore ??
      new MemoryRetainedStore({ maxMemoryBytes: this.config.maxRetainedMemory });
    const dataPlane = new DataPlane(this.config, this.log, this.plugins, this, retainedStore, (pool, clientId, request) =>
      this.disconnectValidated(pool, clientId, request),
    );
    this.dataPlane = dataPlane;
    // Hosts never open a data directory the broker could not open (locked by another broker, newer format);
    // a worker's stdout is no terminal, so they learn what 'auto' means here, and whether anonymous clients are welcome.
    const hostConfig = {
      ...this.config,
      logFormat: resolveLogFormat(this.config.logFormat),
      dataDir: this.storage.failure ? '' : this.config.dataDir,
      allowAnonymous: anonymousAllowed(this.config),
    };
    this.hosts = new HostSupervisor(hostConfig, this.log, this.plugins.plugins, {
      started: (index, endpoint) => dataPlane.attachHost(index, endpoint),
      failed: (index, err) => {
        dataPlane.hostFailed(index);
        this.emit('host-failed', index, err instanceof Error ? err : new Error(String(err)));
      },
    });
    this.transports = new Listeners(this.config, this.log, dataPlane.connections.accept);
    const sysSource = { stats: () => this.stats(), publish: (message: AppMessage) => dataPlane.publish(DEFAULT_POOL, message) };
    this.sys = new SysTree(sysSource, this.config.sysInterval, this.log);
    this.monitor = new MonitorServer(this.config, this.log, this);
  }

  /**
   * Starts the TCP listener and the optional ones the config enables (wsPort,
   * tlsPort, wssPort); resolves with the TCP address (see addresses()). The
   * connections of the listeners `proxyProtocol` names start with a PROXY
   * protocol header.
   * Rejects before anything listens when `dataDir` could not be opened (in
   * use by another broker, a newer format, not creatable), with one line
   * naming the directory; handle() and publish() refuse likewise.
   */
  async listen(): Promise<AddressInfo> {
    if (this.storage.failure) throw this.storage.failure;
    // A module plugin or runtime that fails to load makes listen() fail, before any client is accepted.
    await this.hostsReady();
    if (this.closing) throw new Error('listen: the broker was closed while it started');
    await this.joinCluster();
    const address = await this.transports.listen();
    this.logAnonymousAccess();
    try {
      await this.monitor.listen();
    } catch (err) {
      await this.transports.close();
      throw err;
    }
    this.dataPlane.connections.startSweeper();
    this.sys.start();
    return address;
  }

  /** Addresses of the started listeners (`metrics`: the monitoring HTTP server); a listener that is off has none. */
  addresses(): BrokerAddresses {
    const addresses = this.transports.addresses();
    const metrics = this.monitor.address();
    if (metrics) addresses.metrics = metrics;
    return addresses;
  }

  /**
   * Serves MQTT over WebSocket on `path` (default `wsPath`) of an HTTP or
   * HTTPS server of the embedding application (`wss` for HTTPS). Upgrades
   * on other paths are left to the application. Detached by close().
   */
  attachWebSocket(server: HttpServer | HttpsServer, path: string = this.config.wsPath): void {
    this.serving();
    this.transports.attachWebSocket(server, path);
  }

  /**
   * Serves one MQTT client over `stream`: any Duplex carrying MQTT bytes, such
   * as a socket of the application's own net or tls server, an in-memory
   * stream or a tunnel. It is served as a client of the broker's own
   * listeners is: packet framing and maxIncomingPacketSize, the connect
   * deadline and keepalive, flow control (its reads are paused while its host
   * falls behind; QoS 0 messages are dropped while it holds over
   * maxConnectionBufferBytes unwritten), maxConnections. `transport` is what
   * hooks and the runtime learn of the client; by default a socket's (`tls`
   * for a TLSSocket, else `tcp`, with its peer's address), or `tcp` with
   * address '' and port 0 for another stream. The broker destroys the stream
   * when the session ends it, when its readable side ends (also for a
   * half-open stream), and at close(); a stream handed in after close() is
   * destroyed at once. Works with or without listen().
   */
  handle(stream: Duplex, transport: TransportInfo = streamTransport(stream)): void {
    if (!TRANSPORT_NAMES.includes(transport.type))
      throw new TypeError(`handle: transport.type must be one of ${TRANSPORT_NAMES.join(', ')}`);
    this.serving();
    this.dataPlane.connections.accept(stream, transport);
  }

  /**
   * Adds an in-process plugin: an object of hook functions (README "Writing a
   * plugin"), called in this thread. Its hooks run after those of the module
   * plugins (`config.plugins`), in the order plugins were added. Before or
   * after listen(): a plugin added while clients are connected sees every
   * packet its hosts take after they heard of it (the announcement travels
   * ahead of those packets).
   */
  addPlugin(plugin: Plugin): void {
    this.plugins.add(plugin);
    if (typeof plugin.on_message_drop === 'function') this.dataPlane.reportDrops = true;
    this.dataPlane.hooks.announceAll();
  }

  /** Publishes a message from the embedding application, as if a client had sent it. */
  async publish(options: PublishOptions): Promise<void> {
    if (this.storage.failure) throw this.storage.failure;
    if (!isValidTopicName(options.topic)) throw new TypeError(`invalid topic name: ${options.topic}`);
    const payload = typeof options.payload === 'string' ? Buffer.from(options.payload) : options.payload;
    const message: AppMessage = { topic: options.topic, payload, qos: options.qos ?? 0, retain: options.retain ?? false };
    if (options.properties) {
      const { messageExpiryInterval, ...properties } = options.properties;
      if (messageExpiryInterval !== undefined) {
        if (!Number.isInteger(messageExpiryInterval) || messageExpiryInterval < 0 || messageExpiryInterval > 0xffffffff) {
          throw new RangeError(
            `publish: properties.messageExpiryInterval ${messageExpiryInterval} is not a whole number of seconds in 0..4294967295`,
          );
        }
        message.expiresAt = expiryDeadline(messageExpiryInterval);
      }
      if (Object.keys(properties).length > 0) message.properties = properties;
    }
    this.dataPlane.publish(DEFAULT_POOL, message);
  }

  /**
   * Subscribes the application's `handler` to `filter`: it is called, on the
   * main thread and inside routing (so it must return quickly), with every
   * message routed in the pool that matches, whoever published it, as a
   * client's session would get it but without a socket and without
   * acknowledgements. A handler subscribed to overlapping filters is called
   * once per message. Returns a function that ends this subscription.
   */
  subscribe(filter: string, handler: MessageHandler, options: SubscribeOptions = {}): () => void {
    if (!isValidTopicFilter(filter)) throw new TypeError(`subscribe: invalid topic filter: ${filter}`);
    if (parseSharedFilter(filter)) throw new TypeError(`subscribe: shared subscriptions are for clients: ${filter}`);
    if (typeof handler !== 'function') throw new TypeError('subscribe: handler must be a function');
    const qos = options.qos ?? 2;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new RangeError(`subscribe: qos must be 0, 1 or 2, not ${String(qos)}`);
    const pool = options.pool ?? DEFAULT_POOL;
    this.dataPlane.router.subscribeApp(pool, filter, handler, qos, options.retained ?? false);
    return () => void this.unsubscribe(filter, handler, { pool });
  }

  /** Ends the application's subscription of `handler` to `filter` (in `pool`, default ''); false when there was none. */
  unsubscribe(filter: string, handler: MessageHandler, options: { pool?: string } = {}): boolean {
    return this.dataPlane.router.unsubscribeApp(options.pool ?? DEFAULT_POOL, filter, handler);
  }

  /** Attaches the link to other brokers (a RouterBridge, src/api/bridge.ts); one per broker. */
  attachBridge(bridge: RouterBridge): void {
    this.dataPlane.router.attachBridge(bridge);
  }

  /** Routes a message from the node `origin` through the bridge to the local subscribers of `pool`; it is not handed back to the bridge. */
  routeFromBridge(pool: string, message: AppMessage, origin: string, options?: BridgeRouteOptions): void {
    this.dataPlane.router.routeFromBridge(pool, message, origin, options);
  }

  /** Stores a retained message of another node in `pool` (an empty payload clears the topic's) without delivering it. */
  retainFromBridge(pool: string, message: AppMessage): void {
    this.dataPlane.router.retainFromBridge(pool, message);
  }

  /** What the broker did and holds: one snapshot, the hosts' part gathered over the control plane (src/main/broker-stats.ts). */
  async stats(): Promise<BrokerStats> {
    const hosts = await this.hosts.stats();
    const { connections, router, traffic } = this.dataPlane;
    return {
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      connections: connections.size,
      connectionsBy: connections.census(),
      router: router.stats(),
      hosts,
      droppedQos0: connections.droppedQos0(),
      traffic: traffic.stats(),
      thread: this.load.stats(),
      batchesToHosts: this.dataPlane.batchStats(),
      cluster: this.cluster?.stats(),
    };
  }

  /**
   * The sessions with the most messages queued and inflight (`by: 'queue'`,
   * the default) or with the most packets received and sent since they
   * started (`by: 'packets'`), most first, over every host; `limit` (default
   * 10) at most. Sessions with none are left out.
   */
  topSessions(options: TopSessionsOptions = {}): Promise<SessionSummary[]> {
    const { by = 'queue', limit = 10 } = options;
    if (by !== 'queue' && by !== 'packets') throw new TypeError(`topSessions: by must be 'queue' or 'packets', got ${String(by)}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > TOP_SESSIONS_MAX)
      throw new RangeError(`topSessions: limit must be a whole number in 1..${TOP_SESSIONS_MAX}, got ${limit}`);
    return this.hosts.topSessions(by, limit);
  }

  /**
   * Whether the broker can serve (`/readyz`): every listener the config
   * enables listens, every host loaded and answers a control call within
   * readinessTimeoutMs, the data directory opened where one is configured,
   * and an attached RouterBridge says it is linked.
   */
  async readiness(): Promise<Readiness> {
    const listeners = !this.closing && this.transports.listening();
    const hosts = await this.hosts.answering(this.config.readinessTimeoutMs);
    const store = this.storage.failure === undefined;
    const bridge = this.dataPlane.router.bridgeReady();
    return { ready: listeners && hosts.every(Boolean) && store && bridge, listeners, hosts, store, bridge };
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
    const request = serverDisconnect(clientId, options);
    return this.disconnectValidated(options.pool ?? DEFAULT_POOL, clientId, request);
  }

  /** A validated disconnect, the broker's own or a module plugin's (from its host): asks the host that owns the session; false while closing. */
  private async disconnectValidated(pool: string, clientId: string, request: ServerDisconnect): Promise<boolean> {
    if (this.closing) return false;
    return this.hosts.disconnect(pool, clientId, request);
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
    this.sys.stop();
    await this.monitor.close();
    const { connections } = this.dataPlane;
    connections.stop();
    this.transports.stop();
    this.dataPlane.stop();
    await this.hosts.shutdown(redirect);
    await connections.closeAll(CLIENTS_CLOSE_TIMEOUT_MS, 'broker shutting down');
    this.dataPlane.close();
    await this.hosts.close();
    await this.cluster?.leave();
    await this.transports.close();
    await this.storage.close();
    this.load.close();
    this.log.info('closed');
  }

  /**
   * Tells at start whom anonymous clients reach: a warning when they are
   * allowed on a listener bound to a non-loopback address (allowAnonymous
   * set to true), a line when they are refused only because of that
   * address (allowAnonymous unset).
   */
  private logAnonymousAccess(): void {
    const exposed = Object.entries(this.transports.addresses())
      .filter(([, address]) => !isLoopbackHost(address.address))
      .map(([listener, address]) => `${listener} ${address.address}:${address.port}`);
    if (exposed.length === 0) return;
    if (anonymousAllowed(this.config)) {
      this.log.warn({ listeners: exposed }, 'anonymous clients are allowed on a non-loopback address (allowAnonymous: true)');
    } else if (this.config.allowAnonymous === undefined) {
      this.log.info(
        { listeners: exposed },
        'anonymous clients are refused: a listener binds a non-loopback address (set allowAnonymous to decide otherwise)',
      );
    }
  }

  /** Joins the cluster config.cluster names, once: connects to NATS, reads the cluster's retained messages, attaches the routes. */
  private async joinCluster(): Promise<void> {
    const config = this.config.cluster;
    if (config === null || this.cluster !== undefined) return;
    const cluster = await Cluster.join(config, this, this.hosts, this.log);
    this.cluster = cluster;
    this.attachBridge(cluster);
    this.dataPlane.sessionClaims = cluster.sessions;
  }

  /** A listener or a stream is served, with or without listen(): the module plugins load, the deadlines are checked. */
  private serving(): void {
    if (this.storage.failure) throw this.storage.failure;
    this.hostsReady().catch((err: unknown) => this.log.error({ err }, 'loading the plugin modules or the runtime failed'));
    this.dataPlane.connections.startSweeper();
  }

  /**
   * Resolves once every host has loaded its module plugins and runtime, and
   * learns whether a module plugin implements on_message_drop (the main
   * thread then reports its QoS 0 drops).
   */
  private hostsReady(): Promise<void> {
    this.ready ??= this.hosts.ready().then((hooks) => {
      if (hooks.includes('on_message_drop')) this.dataPlane.reportDrops = true;
    });
    return this.ready;
  }
}

/** What `handle` assumes of a stream it is not told about: a socket's own transport and address, else a TCP client with no address. */
function streamTransport(stream: Duplex): TransportInfo {
  return transportOf(stream instanceof TLSSocket ? 'tls' : 'tcp', stream as { remoteAddress?: string; remotePort?: number });
}

export function createBroker(options: BrokerOptions = {}, dependencies: BrokerDependencies = {}): Broker {
  return new Broker(options, dependencies);
}
