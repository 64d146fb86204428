/**
 * Broker configuration: the fields (every limit named, with its unit) as
 * the broker and its hosts read them, the default worker count, and whether
 * anonymous clients are allowed. Their types, ranges and defaults are
 * checked by the schema (config-schema.ts, main thread). The resolved config
 * is plain data and is copied to every actor host (main thread and workers).
 */
import { availableParallelism } from 'node:os';
import type { PluginSpec } from './hooks.js';
import type { RuntimeSpec } from './runtime.js';

import type { LogFormat, LogLevel } from '../shared/log.js';
import { isLoopbackHost } from '../shared/loopback.js';
import type { TransportName } from '../shared/transport.js';

export type { LogFormat, LogLevel };

/** Which message a full session queue drops: the one arriving ('newest') or the oldest queued ('oldest'). */
export type QueueDropPolicy = 'newest' | 'oldest';

/** How a shared subscription group picks the member that gets a message. */
export type SharedSubscriptionStrategy = 'round-robin' | 'random' | 'sticky';

/** When a commit to `dataDir` counts as done: 'os' = handed to the operating system, 'sync' = flushed to disk. */
export type Durability = 'os' | 'sync';

/** The pool (mountpoint) of each listener's clients, by transport; a listener not named uses the runtime's `pool_default`. */
export type ListenerPools = Partial<Record<TransportName, string>>;

/** Joining other Shoal nodes as one broker over NATS (README "Cluster"). */
export interface ClusterConfig {
  /** NATS server URLs (`nats://host:port`); the client moves between them when one fails. */
  servers: string[];
  /** This node's name: unique in the cluster and the same across its restarts (the sessions it owns are recorded under it). */
  nodeId: string;
  /** First token of every subject the cluster uses and the prefix of its key-value buckets' names. */
  subjectPrefix: string;
  /** How long a node waits for the node owning a session to hand it over, in milliseconds; then it takes the session without its state. */
  handoverTimeoutMs: number;
  /** Accept CONNECTs while this node's link to NATS is down (ownership unchecked); false refuses them with 0x88 / return code 3. */
  connectWhileUnlinked: boolean;
  /** Copies JetStream keeps of the cluster's key-value buckets (sessions, retained): 1 on one NATS server, 3 on a NATS cluster. */
  bucketReplicas: number;
}

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

  /** The cluster this node joins over NATS; null = a broker on its own. */
  cluster: ClusterConfig | null;
}

/** The cluster as given: `servers` and `nodeId`, the rest defaulted. */
export type ClusterOptions = Pick<ClusterConfig, 'servers' | 'nodeId'> & Partial<ClusterConfig>;

/** Configuration as given (createBroker's options, a JSON file): any field, defaults for the rest. */
export type ConfigOptions = Partial<Omit<BrokerConfig, 'cluster'>> & { cluster?: ClusterOptions | null };

/**
 * Worker count when none is given. On two cores or fewer the load benchmark
 * (BENCHMARKS.md, worker sweep) found sessions on the main thread fastest;
 * above that, one worker per core beyond the main thread's, at most 4.
 */
export function defaultWorkerCount(): number {
  const cores = availableParallelism();
  return cores <= 2 ? 0 : Math.min(4, cores - 1);
}

/**
 * Whether anonymous clients are accepted (see `allowAnonymous`): as set, or,
 * unset, only while `host`, the address every listener (TCP, WebSocket, TLS,
 * WSS) binds, is a loopback one. Decided once, before the actor hosts start.
 */
export function anonymousAllowed(config: BrokerConfig): boolean {
  return config.allowAnonymous ?? isLoopbackHost(config.host);
}
