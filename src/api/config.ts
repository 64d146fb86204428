/**
 * Broker configuration: every limit as a named field with its default and
 * unit, merged with user options and validated at start. The resolved config
 * is plain data and is copied to every actor host (main thread and workers).
 */
import { availableParallelism } from 'node:os';
import type { PluginSpec } from './hooks.js';
import type { RuntimeSpec } from './runtime.js';

import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../shared/log.js';
import { isLoopbackHost } from '../shared/loopback.js';
import { TRANSPORT_NAMES, type TransportName } from '../shared/transport.js';

export type { LogFormat, LogLevel };

/** Which message a full session queue drops: the one arriving ('newest') or the oldest queued ('oldest'). */
export type QueueDropPolicy = 'newest' | 'oldest';

/** How a shared subscription group picks the member that gets a message. */
export type SharedSubscriptionStrategy = 'round-robin' | 'random' | 'sticky';

/** When a commit to `dataDir` counts as done: 'os' = handed to the operating system, 'sync' = flushed to disk. */
export type Durability = 'os' | 'sync';

/** The pool (mountpoint) of each listener's clients, by transport; a listener not named uses the runtime's `pool_default`. */
export type ListenerPools = Partial<Record<TransportName, string>>;

export interface BrokerConfig {
  /** Address the TCP listener binds to. */
  host: string;
  /** TCP port of the MQTT listener; 0 picks a free port. */
  port: number;
  /** Worker threads hosting session actors; 0 hosts them on the main thread. */
  workers: number;
  /** pino log level. */
  logLevel: LogLevel;
  /** How log records are written: 'json' lines, 'pretty' (pino-pretty) lines, or 'auto': pretty when stdout is a terminal, else JSON. */
  logFormat: LogFormat;
  /**
   * With no plugin implementing auth_on_register(_m5): accept every client
   * (false: refuse every one). With such plugins: also accept a client for
   * which every plugin answered `next`. Unset (undefined, or null in a JSON
   * file): true when `host`, which every listener binds, is a loopback
   * address (or `localhost`), false otherwise (anonymousAllowed), as
   * Mosquitto 2 decides.
   */
  allowAnonymous: boolean | undefined;
  /** Largest packet accepted from a client, in bytes (checked from the fixed header). */
  maxIncomingPacketSize: number;
  /** Largest packet sent to a client, in bytes; 0 = no cap beyond the client's own Maximum Packet Size. */
  maxOutgoingPacketSize: number;
  /** Time a new connection has to send CONNECT, in milliseconds. */
  connectTimeoutMs: number;
  /** Time from a CONNECT to its CONNACK (hooks, enhanced authentication, the runtime), in milliseconds. */
  handshakeTimeoutMs: number;
  /** Open client connections accepted at once; 0 = unlimited. */
  maxConnections: number;
  /** Longest client identifier accepted, in characters. */
  maxClientIdLength: number;
  /** Longest topic name or filter accepted, in bytes. */
  maxTopicLength: number;
  /** Most levels in a topic name or filter. */
  maxTopicLevels: number;
  /** Highest keepalive granted, in seconds: 5.0 clients asking for more, or for none (0), get Server Keep Alive. */
  maxKeepalive: number;
  /** Session expiry for 3.1.1 clients with clean session = 0, in seconds. */
  persistentSessionExpiry: number;
  /** Seconds between two publications of the broker's `$SYS/broker/...` figures (retained); 0 = none. */
  sysInterval: number;
  /** Port of the monitoring HTTP server (`/metrics` in the Prometheus text format, `/healthz`, `/readyz`, the status page at `/`); -1 = off, 0 picks a free port. */
  metricsPort: number;
  /** Address the monitoring HTTP server binds to. */
  metricsHost: string;
  /** How long `/readyz` waits for each actor host to answer before it counts as down, in milliseconds. */
  readinessTimeoutMs: number;
  /** Cap on the Session Expiry Interval a 5.0 client may ask for, in seconds. */
  maxSessionExpiryInterval: number;
  /** Unacknowledged QoS 1/2 messages sent to one client at once (5.0 clients may ask fewer). */
  maxInflightMessages: number;
  /** Receive Maximum advertised to 5.0 clients: their unacknowledged QoS 2 publishes towards us (one more is DISCONNECT 0x93). */
  receiveMaximum: number;
  /** Messages queued for a connected session beyond its inflight window. */
  maxOnlineMessages: number;
  /** Messages queued for a disconnected persistent session. */
  maxOfflineMessages: number;
  /** Estimated bytes queued for a connected session beyond its inflight window (src/shared/message/message-bytes.ts); 0 = no byte cap. */
  maxOnlineBytes: number;
  /** Estimated bytes queued for a disconnected persistent session; 0 = no byte cap. */
  maxOfflineBytes: number;
  /** Which message a full session queue drops (each drop goes to on_message_drop as queue_full). */
  queueDropPolicy: QueueDropPolicy;
  /** Sustained incoming PUBLISH rate per session, in messages per second (token bucket refill). */
  maxIncomingMessagesRate: number;
  /** Extra incoming PUBLISH burst per session, in messages, on top of the rate. */
  maxIncomingMessagesBurst: number;
  /** Bytes of retained messages held per pool before eviction. */
  maxRetainedMemory: number;
  /** Bytes waiting in one client's socket above which QoS 0 messages to it are dropped (slow consumer). */
  maxConnectionBufferBytes: number;
  /** Batches sent to one actor host and not yet handled, above which reading from its clients pauses. */
  maxPendingBatches: number;
  /** Data-plane batch flushed early once it holds this many bytes. */
  batchFlushBytes: number;
  /** Data-plane batch flushed early once it holds this many frames. */
  batchFlushFrames: number;
  /** Topic Alias Maximum advertised to 5.0 clients: the aliases they may define towards us, per connection; 0 = none. */
  topicAliasMaximum: number;
  /** Topic aliases the broker assigns towards one 5.0 client, per connection (also capped by the client's own Topic Alias Maximum); 0 = never. */
  maxOutgoingTopicAliases: number;
  /** How a shared subscription group (`$share/{group}/{filter}`) picks the member that gets each message. */
  sharedSubscriptionStrategy: SharedSubscriptionStrategy;
  /** Response Information sent in CONNACK to 5.0 clients that set Request Response Information; '' = none. */
  responseInformation: string;
  /**
   * Plugin modules every actor host loads (README "Writing a plugin"): a path
   * starting with '.' or '/' (resolved against the working directory) or a
   * package name, a bundled plugin (`shoal/passwd`, `shoal/acl`), or
   * `{ module, options }` with options for the module's factory. Their hooks
   * run before those of `broker.addPlugin`.
   */
  plugins: PluginSpec[];
  /** Longest wait for a hook that answers asynchronously, in milliseconds; a chain still waiting then counts as an error. */
  pluginTimeoutMs: number;
  /**
   * The session runtime every actor host loads (README "Session runtime"):
   * '' for the default runtime, a module specifier as for `plugins`, or
   * `{ module, options }`. It decides after the plugins.
   */
  runtime: RuntimeSpec;
  /** The pool of the clients of each listener (`tcp`, `tls`, `ws`, `wss`) whose username names no vhost; a listener left out uses the runtime's pool_default. */
  listenerPools: ListenerPools;
  /**
   * What separates the vhost from the user in a username (`vhost:user` with
   * ':'): its vhost picks the client's pool through the runtime's
   * vhost_pool. '' = usernames are used whole, unless the runtime implements
   * its own vhost_pool (then ':').
   */
  vhostSeparator: string;
  /** Longest expiry of an anonymous WebSocket session after its transport went away, in seconds (never longer than negotiated). */
  wsAnonymousSessionExpiry: number;
  /** Longest expiry of an anonymous WebSocket session of a crawler after its transport went away, in seconds. */
  wsCrawlerSessionExpiry: number;

  // Optional transports. Their ports use -1 for "off"; 0 picks a free port, as
  // for `port`. They bind to `host`; `broker.addresses()` tells where.
  /** Port of the WebSocket listener (`ws://`); -1 = off, 0 picks a free port. */
  wsPort: number;
  /** HTTP path the WebSocket and WSS listeners serve (and `attachWebSocket` by default); must start with '/'. */
  wsPath: string;
  /** Port of the TLS listener (`mqtts://`); -1 = off, 0 picks a free port. Needs tlsCert and tlsKey. */
  tlsPort: number;
  /** Port of the secure WebSocket listener (`wss://`); -1 = off, 0 picks a free port. Needs tlsCert and tlsKey. */
  wssPort: number;
  /** PEM file with the server certificate (and chain) of the TLS and WSS listeners; '' = none. */
  tlsCert: string;
  /** PEM file with the private key of tlsCert; '' = none. */
  tlsKey: string;
  /** PEM file with the CA certificates client certificates are checked against; '' = Node's default CAs. */
  tlsCa: string;
  /** Ask TLS and WSS clients for a certificate. */
  tlsRequestCert: boolean;
  /** With tlsRequestCert: refuse a client whose certificate is missing or not signed by a trusted CA. */
  tlsRejectUnauthorized: boolean;
  /**
   * The listeners whose connections start with a PROXY protocol header, v1
   * (text) or v2 (binary), from a load balancer in front of the broker: a
   * list of `tcp`, `tls`, `ws`, `wss` (on TLS and WSS the header comes
   * before the TLS handshake, as a load balancer passing TLS through sends
   * it); `true` = `['tcp']`, `false` = none. The client address it carries
   * is the one sessions, events and logs see. A connection without a valid
   * header (at most 107 bytes for v1, 4096 for v2, within connectTimeoutMs)
   * is closed. Only name a listener behind such a proxy: anyone reaching its
   * port could claim any address.
   */
  proxyProtocol: boolean | TransportName[];

  // Persistence. With no dataDir everything is kept in memory and lost at exit.
  /**
   * Directory of the broker's durable state (one LMDB environment), created
   * if missing; '' = none: everything in memory. One broker per directory:
   * a second one on the same directory fails at start.
   */
  dataDir: string;
  /**
   * When a write to `dataDir` counts as committed: 'os' = handed to the
   * operating system (survives a kill -9 of the broker, not a power loss);
   * 'sync' = flushed to disk (survives a power loss; slower commits).
   */
  durability: Durability;
}

interface FieldSpec {
  min: number;
  max: number;
  integer: boolean;
}

const NUMERIC_FIELDS: Record<string, FieldSpec> = {
  port: { min: 0, max: 65535, integer: true },
  workers: { min: 0, max: 256, integer: true },
  maxIncomingPacketSize: { min: 64, max: 268435455, integer: true },
  maxOutgoingPacketSize: { min: 0, max: 268435455, integer: true },
  connectTimeoutMs: { min: 100, max: 3_600_000, integer: true },
  handshakeTimeoutMs: { min: 100, max: 3_600_000, integer: true },
  maxConnections: { min: 0, max: 10_000_000, integer: true },
  maxClientIdLength: { min: 23, max: 65535, integer: true },
  maxTopicLength: { min: 1, max: 65535, integer: true },
  maxTopicLevels: { min: 1, max: 65535, integer: true },
  maxKeepalive: { min: 1, max: 65535, integer: true },
  persistentSessionExpiry: { min: 0, max: 4294967295, integer: true },
  sysInterval: { min: 0, max: 86400, integer: true },
  metricsPort: { min: -1, max: 65535, integer: true },
  readinessTimeoutMs: { min: 1, max: 60_000, integer: true },
  maxSessionExpiryInterval: { min: 0, max: 4294967295, integer: true },
  maxInflightMessages: { min: 1, max: 65535, integer: true },
  receiveMaximum: { min: 1, max: 65535, integer: true },
  maxOnlineMessages: { min: 0, max: 100_000_000, integer: true },
  maxOfflineMessages: { min: 0, max: 100_000_000, integer: true },
  maxOnlineBytes: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  maxOfflineBytes: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  maxIncomingMessagesRate: { min: 1, max: 1e9, integer: false },
  maxIncomingMessagesBurst: { min: 0, max: 1e9, integer: true },
  maxRetainedMemory: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  maxConnectionBufferBytes: { min: 1024, max: 1024 * 1024 * 1024, integer: true },
  maxPendingBatches: { min: 2, max: 1_000_000, integer: true },
  batchFlushBytes: { min: 1024, max: 64 * 1024 * 1024, integer: true },
  batchFlushFrames: { min: 1, max: 1_000_000, integer: true },
  topicAliasMaximum: { min: 0, max: 65535, integer: true },
  maxOutgoingTopicAliases: { min: 0, max: 65535, integer: true },
  pluginTimeoutMs: { min: 1, max: 3_600_000, integer: true },
  wsAnonymousSessionExpiry: { min: 0, max: 4294967295, integer: true },
  wsCrawlerSessionExpiry: { min: 0, max: 4294967295, integer: true },
  wsPort: { min: -1, max: 65535, integer: true },
  tlsPort: { min: -1, max: 65535, integer: true },
  wssPort: { min: -1, max: 65535, integer: true },
};

/**
 * Worker count when none is given. On two cores or fewer the load benchmark
 * (BENCHMARKS.md, worker sweep) found sessions on the main thread fastest;
 * above that, one worker per core beyond the main thread's, at most 4.
 */
export function defaultWorkerCount(): number {
  const cores = availableParallelism();
  return cores <= 2 ? 0 : Math.min(4, cores - 1);
}

export function defaultConfig(): BrokerConfig {
  return {
    host: '127.0.0.1',
    port: 1883,
    workers: defaultWorkerCount(),
    logLevel: 'info',
    logFormat: 'auto',
    allowAnonymous: undefined,
    maxIncomingPacketSize: 20 * 1024 * 1024,
    maxOutgoingPacketSize: 0,
    connectTimeoutMs: 10_000,
    handshakeTimeoutMs: 30_000,
    maxConnections: 0,
    maxClientIdLength: 100,
    maxTopicLength: 65535,
    maxTopicLevels: 128,
    maxKeepalive: 60,
    persistentSessionExpiry: 7200,
    sysInterval: 10,
    metricsPort: -1,
    metricsHost: '127.0.0.1',
    readinessTimeoutMs: 1000,
    maxSessionExpiryInterval: 86400,
    maxInflightMessages: 20,
    receiveMaximum: 1024,
    maxOnlineMessages: 1000,
    maxOfflineMessages: 1000,
    maxOnlineBytes: 32 * 1024 * 1024,
    maxOfflineBytes: 32 * 1024 * 1024,
    queueDropPolicy: 'oldest',
    maxIncomingMessagesRate: 1000,
    maxIncomingMessagesBurst: 5000,
    maxRetainedMemory: 500 * 1024 * 1024,
    maxConnectionBufferBytes: 2 * 1024 * 1024,
    maxPendingBatches: 64,
    batchFlushBytes: 64 * 1024,
    batchFlushFrames: 256,
    topicAliasMaximum: 10,
    maxOutgoingTopicAliases: 10,
    sharedSubscriptionStrategy: 'round-robin',
    responseInformation: '',
    plugins: [],
    pluginTimeoutMs: 5000,
    runtime: '',
    listenerPools: {},
    vhostSeparator: '',
    wsAnonymousSessionExpiry: 30,
    wsCrawlerSessionExpiry: 10,
    wsPort: -1,
    wsPath: '/mqtt',
    tlsPort: -1,
    wssPort: -1,
    tlsCert: '',
    tlsKey: '',
    tlsCa: '',
    tlsRequestCert: false,
    tlsRejectUnauthorized: true,
    proxyProtocol: false,
    dataDir: '',
    durability: 'os',
  };
}

/**
 * Whether anonymous clients are accepted (see `allowAnonymous`): as set, or,
 * unset, only while `host`, the address every listener (TCP, WebSocket, TLS,
 * WSS) binds, is a loopback one. Decided once, before the actor hosts start.
 */
export function anonymousAllowed(config: BrokerConfig): boolean {
  return config.allowAnonymous ?? isLoopbackHost(config.host);
}

/** Merges `options` over the defaults and validates every field; throws an error naming the field. */
export function resolveConfig(options: Partial<BrokerConfig> = {}): BrokerConfig {
  const config = defaultConfig();
  const target = config as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(options)) {
    if (!(field in config)) throw new RangeError(`config.${field}: unknown field`);
    if (value !== undefined) target[field] = value;
  }
  for (const [field, spec] of Object.entries(NUMERIC_FIELDS)) {
    checkNumber(field, target[field], spec);
  }
  for (const field of ['host', 'metricsHost'] as const) {
    if (typeof config[field] !== 'string' || config[field] === '') throw new TypeError(`config.${field}: expected a non-empty string`);
  }
  if (!LOG_LEVELS.includes(config.logLevel)) {
    throw new RangeError(`config.logLevel: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  if (!LOG_FORMATS.includes(config.logFormat)) {
    throw new RangeError(`config.logFormat: expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(config.logFormat)}`);
  }
  if ((config.allowAnonymous as unknown) === null) config.allowAnonymous = undefined;
  if (config.allowAnonymous !== undefined && typeof config.allowAnonymous !== 'boolean') {
    throw new TypeError(
      `config.allowAnonymous: expected a boolean, or unset (null) for anonymous access on loopback only, got ${JSON.stringify(config.allowAnonymous)}`,
    );
  }
  checkTransports(config);
  checkProtocolOptions(config);
  checkRuntime(config);
  checkPersistence(config);
  return config;
}

/** The optional transports' fields (their ports are checked with the numbers). */
function checkTransports(config: BrokerConfig): void {
  if (typeof config.wsPath !== 'string' || !config.wsPath.startsWith('/')) {
    throw new TypeError(`config.wsPath: expected a path starting with '/', got ${JSON.stringify(config.wsPath)}`);
  }
  for (const field of ['tlsCert', 'tlsKey', 'tlsCa'] as const) {
    if (typeof config[field] !== 'string') throw new TypeError(`config.${field}: expected a file path string ('' = none)`);
  }
  for (const field of ['tlsRequestCert', 'tlsRejectUnauthorized'] as const) {
    if (typeof config[field] !== 'boolean') throw new TypeError(`config.${field}: expected a boolean`);
  }
  const proxied: unknown = config.proxyProtocol;
  if (
    typeof proxied !== 'boolean' &&
    !(Array.isArray(proxied) && proxied.every((l, i) => (TRANSPORT_NAMES as readonly unknown[]).includes(l) && proxied.indexOf(l) === i))
  ) {
    throw new TypeError(
      `config.proxyProtocol: expected a boolean (true: the TCP listener) or a list of distinct listeners (tcp, tls, ws, wss), got ${JSON.stringify(proxied)}`,
    );
  }
  if (config.tlsPort >= 0 || config.wssPort >= 0) {
    for (const field of ['tlsCert', 'tlsKey'] as const) {
      if (config[field] === '') throw new RangeError(`config.${field}: required when tlsPort or wssPort is set`);
    }
  }
}

const SHARED_STRATEGIES: readonly SharedSubscriptionStrategy[] = ['round-robin', 'random', 'sticky'];
const DROP_POLICIES: readonly QueueDropPolicy[] = ['newest', 'oldest'];

/** The non-numeric MQTT 5.0 feature fields, and the plugin modules. */
function checkProtocolOptions(config: BrokerConfig): void {
  if (!SHARED_STRATEGIES.includes(config.sharedSubscriptionStrategy)) {
    throw new RangeError(`config.sharedSubscriptionStrategy: expected one of ${SHARED_STRATEGIES.join(', ')}`);
  }
  if (!DROP_POLICIES.includes(config.queueDropPolicy)) {
    throw new RangeError(`config.queueDropPolicy: expected one of ${DROP_POLICIES.join(', ')}`);
  }
  if (typeof config.responseInformation !== 'string' || Buffer.byteLength(config.responseInformation) > 65535) {
    throw new TypeError('config.responseInformation: expected a string of at most 65535 bytes');
  }
  if (!Array.isArray(config.plugins)) {
    throw new TypeError('config.plugins: expected an array of module paths, package names or { module, options } entries');
  }
  config.plugins.forEach((entry: unknown, i) => checkModuleSpec(`plugins[${i}]`, entry, false));
}

/** A module entry: a non-empty specifier string ('' too when `emptyAllowed`) or `{ module, options }`. */
function checkModuleSpec(field: string, entry: unknown, emptyAllowed: boolean): void {
  if (typeof entry === 'string' && (entry !== '' || emptyAllowed)) return;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new TypeError(`config.${field}: expected a module path, a package name or { module, options }, got ${JSON.stringify(entry)}`);
  }
  const { module, options } = entry as { module?: unknown; options?: unknown };
  if (typeof module !== 'string' || module === '') throw new TypeError(`config.${field}.module: expected a module path or package name`);
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`config.${field}.options: expected an object`);
  }
}

/** The session runtime, the pools of the listeners and the vhost separator of usernames. */
function checkRuntime(config: BrokerConfig): void {
  checkModuleSpec('runtime', config.runtime, true);
  const pools: unknown = config.listenerPools;
  if (typeof pools !== 'object' || pools === null || Array.isArray(pools)) {
    throw new TypeError('config.listenerPools: expected an object of pool names by listener (tcp, tls, ws, wss)');
  }
  for (const [listener, pool] of Object.entries(pools)) {
    if (!(TRANSPORT_NAMES as readonly string[]).includes(listener))
      throw new RangeError(`config.listenerPools.${listener}: unknown listener (expected tcp, tls, ws or wss)`);
    if (typeof pool !== 'string') throw new TypeError(`config.listenerPools.${listener}: expected a pool name string`);
  }
  if (typeof config.vhostSeparator !== 'string') {
    throw new TypeError(
      `config.vhostSeparator: expected a string ('' = usernames are used whole), got ${JSON.stringify(config.vhostSeparator)}`,
    );
  }
}

const DURABILITIES: readonly Durability[] = ['os', 'sync'];

/** The data directory and its durability (the directory itself is opened, and checked further, when the broker starts). */
function checkPersistence(config: BrokerConfig): void {
  if (typeof config.dataDir !== 'string' || config.dataDir.includes('\0')) {
    throw new TypeError(
      `config.dataDir: expected a directory path string ('' = none, everything in memory), got ${JSON.stringify(config.dataDir)}`,
    );
  }
  if (!DURABILITIES.includes(config.durability)) {
    throw new RangeError(`config.durability: expected one of ${DURABILITIES.join(', ')}, got ${JSON.stringify(config.durability)}`);
  }
}

function checkNumber(field: string, value: unknown, spec: FieldSpec): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`config.${field}: expected a number, got ${JSON.stringify(value)}`);
  }
  if (spec.integer && !Number.isInteger(value)) {
    throw new RangeError(`config.${field}: expected an integer, got ${value}`);
  }
  if (value < spec.min || value > spec.max) {
    throw new RangeError(`config.${field}: ${value} is outside ${spec.min}..${spec.max}`);
  }
}
