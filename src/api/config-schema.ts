/**
 * The configuration schema (zod): every field's type, range, default and
 * unit in one place. resolveConfig validates options against it and reports
 * every problem at once, naming each field; defaultConfig is what it yields
 * for no options; configJsonSchema is the JSON Schema editors read for
 * `broker.json` (docs/broker.schema.json). Main thread; the resolved config
 * is plain data copied to every actor host.
 */
import { z } from 'zod';
import { defaultWorkerCount, type BrokerConfig, type ConfigOptions } from './config.js';
import { LOG_FORMATS, LOG_LEVELS } from '../shared/log.js';
import { TRANSPORT_NAMES } from '../shared/transport.js';

/** The unit of a field's value, shown beside its default in the docs. */
type Unit =
  | 'bytes'
  | 'ms'
  | 's'
  | 'messages'
  | 'msgs/s'
  | 'connections'
  | 'characters'
  | 'levels'
  | 'threads'
  | 'batches'
  | 'frames'
  | 'aliases'
  | 'port'
  | 'address'
  | 'path';

const int = (min: number, max: number): z.ZodNumber => z.number().int().min(min).max(max);
const port = (): z.ZodNumber => int(-1, 65535);
const withUnit = <T extends z.ZodType>(schema: T, unit: Unit): T => schema.meta({ unit });

const PROXY_EXPECTED = 'expected a boolean (true: the TCP listener) or a list of distinct listeners (tcp, tls, ws, wss)';
const MODULE_EXPECTED = 'expected a module path, a package name or { module, options }';
/** A plugin or runtime module given with options for its factory. */
const MODULE_WITH_OPTIONS = z.strictObject({ module: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() });

const TRANSPORT = z.enum(TRANSPORT_NAMES);

/** A name that is one NATS subject token and part of a bucket name. */
const TOKEN = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1 to 64 letters, digits, _ or -');
const CLUSTER = z.strictObject({
  servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s]+$/, 'expected a NATS URL, nats://host:port')).min(1),
  nodeId: TOKEN,
  subjectPrefix: TOKEN.default('shoal'),
  handoverTimeoutMs: int(100, 60_000).default(2000),
  connectWhileUnlinked: z.boolean().default(false),
  bucketReplicas: int(1, 5).default(1),
});

export const CONFIG_SCHEMA = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('address every listener (TCP, WebSocket, TLS, WSS) binds to'),
    port: int(0, 65535).default(1883).describe('TCP port; 0 picks a free one'),
    workers: withUnit(int(0, 256), 'threads')
      .default(defaultWorkerCount)
      .describe('worker threads hosting sessions; 0 = main thread. The default follows the worker sweep in BENCHMARKS.md'),
    logLevel: z.enum(LOG_LEVELS).default('info').describe('pino level'),
    logFormat: z
      .enum(LOG_FORMATS)
      .default('auto')
      .describe(
        'how log records are written: `json` lines, `pretty` (pino-pretty) lines, or `auto`: pretty when stdout is a terminal, else JSON (`--log-format`; "Logs")',
      ),
    allowAnonymous: z
      .boolean()
      .nullable()
      .default(null)
      .transform((v) => v ?? undefined)
      .describe(
        "with no plugin implementing `auth_on_register(_m5)`: accept every client (off: refuse every one, CONNACK 0x87, 3.1.1 return code 5); with such plugins: also accept a client for which every plugin answered `next`. Unset, it is decided once, when the broker is created, from `host`, which every listener binds: anonymous clients are allowed when it is a loopback address (`127.0.0.0/8`, `::1`, `localhost`) and refused on any other (`0.0.0.0`, `::`, a LAN address, a host name), as Mosquitto 2 does; the log says so at start. Set to `true` or `false`, it is obeyed; `true` on a non-loopback address logs a warning at start (`--allow-anonymous`). Streams handed to `broker.handle` and WebSocket endpoints attached to the application's servers follow the same decision: the broker cannot see where the application listens, so an application serving a network through them sets `allowAnonymous: false` or an authentication plugin",
      ),
    maxIncomingPacketSize: withUnit(int(64, 268435455), 'bytes')
      .default(20 * 1024 * 1024)
      .describe('largest packet accepted, checked from the fixed header; advertised in 5.0 CONNACK'),
    maxOutgoingPacketSize: withUnit(int(0, 268435455), 'bytes')
      .default(0)
      .describe(
        "largest packet sent (any packet, CONNACK included), combined with the client's Maximum Packet Size; a PUBLISH over it is skipped for that client, counted and reported to `on_message_drop` as `max_packet_size_exceeded`; other packets as in Maximum Packet Size below",
      ),
    connectTimeoutMs: withUnit(int(100, 3_600_000), 'ms').default(10_000).describe('time a new connection has to send CONNECT'),
    handshakeTimeoutMs: withUnit(int(100, 3_600_000), 'ms')
      .default(30_000)
      .describe(
        'time from a CONNECT to its CONNACK: an enhanced authentication the client leaves halfway, hooks or a runtime that never answer, actor hosts that do not start; over it the connection is closed without CONNACK',
      ),
    maxConnections: withUnit(int(0, 10_000_000), 'connections').default(0).describe('open client connections'),
    maxClientIdLength: withUnit(int(23, 65535), 'characters').default(100).describe('longest client identifier'),
    maxTopicLength: withUnit(int(1, 65535), 'bytes').default(65535).describe('longest topic name or filter'),
    maxTopicLevels: withUnit(int(1, 65535), 'levels').default(128).describe('most levels in a topic name or filter'),
    maxKeepalive: withUnit(int(1, 65535), 's')
      .default(60)
      .describe('highest keepalive granted; 5.0 clients asking for more, or for 0, get Server Keep Alive'),
    persistentSessionExpiry: withUnit(int(0, 4294967295), 's').default(7200).describe('expiry of 3.1.1 sessions with clean session = 0'),
    sysInterval: withUnit(int(0, 86400), 's')
      .default(10)
      .describe(
        'how often the broker publishes its `$SYS/broker/...` figures (retained, QoS 0, default pool; "Watching the broker"); 0 = none',
      ),
    metricsPort: withUnit(port(), 'port')
      .default(-1)
      .describe(
        'the monitoring HTTP server: `/metrics` (Prometheus), `/healthz`, `/readyz`, the status page at `/`; -1 = off, 0 = any free port (`--metrics-port`)',
      ),
    metricsHost: withUnit(z.string().min(1), 'address')
      .default('127.0.0.1')
      .describe('what the monitoring HTTP server binds to (`--metrics-host`)'),
    readinessTimeoutMs: withUnit(int(1, 60_000), 'ms')
      .default(1000)
      .describe('how long `/readyz` waits for each actor host to answer before it counts as down'),
    maxSessionExpiryInterval: withUnit(int(0, 4294967295), 's').default(86400).describe("cap on a 5.0 client's Session Expiry Interval"),
    maxInflightMessages: withUnit(int(1, 65535), 'messages').default(20).describe('unacknowledged QoS 1/2 messages sent to one client'),
    receiveMaximum: withUnit(int(1, 65535), 'messages')
      .default(1024)
      .describe(
        "Receive Maximum advertised to 5.0 clients in CONNACK: the QoS 2 publishes a client may leave waiting for PUBREL; one more is DISCONNECT 0x93. Bounded by default (MQTT's own default, 65535, would leave the publish rate limit to answer first)",
      ),
    maxOnlineMessages: withUnit(int(0, 100_000_000), 'messages')
      .default(1000)
      .describe('queue of a connected session beyond its inflight window; 0 = queue nothing'),
    maxOfflineMessages: withUnit(int(0, 100_000_000), 'messages')
      .default(1000)
      .describe('queue of a disconnected persistent session (beyond the messages sent and not yet acknowledged); 0 = queue nothing'),
    maxOnlineBytes: withUnit(int(0, Number.MAX_SAFE_INTEGER), 'bytes')
      .default(32 * 1024 * 1024)
      .describe(
        "estimated bytes of the queue of a connected session: per message 200 + 2 × topic length + payload bytes + its 5.0 properties' strings and buffers (+ 64 for the properties object); 0 = no byte cap. A message over the cap alone is dropped",
      ),
    maxOfflineBytes: withUnit(int(0, Number.MAX_SAFE_INTEGER), 'bytes')
      .default(32 * 1024 * 1024)
      .describe('the same for a disconnected persistent session; a session going offline is trimmed to it'),
    queueDropPolicy: z
      .enum(['newest', 'oldest'])
      .default('oldest')
      .describe(
        'which message a full queue drops: `oldest` (the oldest queued goes, the new one is kept; the default, so a subscriber that is behind or away gets the latest state rather than a stale window) or `newest` (the new one is refused, as VerneMQ and Mosquitto do); each drop is counted (`drops.queueFull`) and reported to `on_message_drop` as `queue_full`',
      ),
    maxIncomingMessagesRate: withUnit(z.number().min(1).max(1e9), 'msgs/s')
      .default(1000)
      .describe(
        "sustained incoming PUBLISH rate per session (token bucket). Over it a 5.0 client's QoS 0 is dropped and QoS 1/2 get PUBACK/PUBREC 0x97; 3.1.1 has no such code, so a 3.1.1 client is throttled: the publish is taken and its connection is not read until the bucket refilled (its data waits in the network, not in the broker)",
      ),
    maxIncomingMessagesBurst: withUnit(int(0, 1e9), 'messages').default(5000).describe('burst on top of the rate'),
    maxRetainedMemory: withUnit(int(0, Number.MAX_SAFE_INTEGER), 'bytes')
      .default(500 * 1024 * 1024)
      .describe('retained messages per pool; expired go first, then the oldest; 0 = keep none'),
    maxConnectionBufferBytes: withUnit(int(1024, 1024 * 1024 * 1024), 'bytes')
      .default(2 * 1024 * 1024)
      .describe(
        "bytes waiting in one client's socket above which QoS 0 messages to it are dropped (slow consumer), counted in `broker.stats().droppedQos0`; a 5.0 client that missed a Topic Alias so gets it again with the next PUBLISH that uses it (docs/ARCHITECTURE.md, Backpressure)",
      ),
    maxPendingBatches: withUnit(int(2, 1_000_000), 'batches')
      .default(64)
      .describe(
        "batches sent to one actor host and not yet handled, above which the broker stops reading from that host's clients until it catches up",
      ),
    batchFlushBytes: withUnit(int(1024, 64 * 1024 * 1024), 'bytes')
      .default(64 * 1024)
      .describe('data-plane batch flushed early at this size'),
    batchFlushFrames: withUnit(int(1, 1_000_000), 'frames').default(256).describe('data-plane batch flushed early at this count'),
    topicAliasMaximum: withUnit(int(0, 65535), 'aliases')
      .default(10)
      .describe(
        'Topic Alias Maximum advertised to 5.0 clients (aliases they may define per connection); 0 = none, any alias is then DISCONNECT 0x94',
      ),
    maxOutgoingTopicAliases: withUnit(int(0, 65535), 'aliases')
      .default(10)
      .describe(
        "topic aliases the broker assigns towards one 5.0 client per connection (least recently used reused), also capped by the client's Topic Alias Maximum; 0 = never",
      ),
    sharedSubscriptionStrategy: z
      .enum(['round-robin', 'random', 'sticky'])
      .default('round-robin')
      .describe(
        'member of a `$share/{group}/{filter}` group that gets each message: `round-robin`, `random` or `sticky` (the same member while it is online)',
      ),
    responseInformation: z
      .string()
      .refine((s) => Buffer.byteLength(s) <= 65535, 'expected at most 65535 bytes')
      .default('')
      .describe('Response Information sent in CONNACK to 5.0 clients that set Request Response Information'),
    plugins: z
      .array(z.union([z.string().min(1), MODULE_WITH_OPTIONS], { error: MODULE_EXPECTED }))
      .default([])
      .describe(
        'plugin modules every actor host loads ("Writing a plugin"): paths starting with `.` or `/` (against the working directory), package names, the bundled `shoal/passwd` and `shoal/acl` ("Bundled plugins"), or `{ "module", "options" }` entries whose options reach the factory; a module that fails to load makes `listen()` fail',
      ),
    pluginTimeoutMs: withUnit(int(1, 3_600_000), 'ms')
      .default(5000)
      .describe(
        'longest wait for a hook answering asynchronously; a chain still waiting then counts as an error (refused CONNECT, PUBLISH or SUBSCRIBE; an unchanged delivery)',
      ),
    runtime: z
      .union([z.string(), MODULE_WITH_OPTIONS], { error: MODULE_EXPECTED })
      .default('')
      .describe(
        'the session runtime every actor host loads ("Session runtime"): a module path or package as for `plugins`, or `{ "module", "options" }`; it decides after the plugins; a module that fails to load makes `listen()` fail',
      ),
    listenerPools: z
      .partialRecord(TRANSPORT, z.string())
      .default({})
      .describe(
        'pool of the clients of a listener (`tcp`, `tls`, `ws`, `wss`) whose username names no vhost, e.g. `{ "ws": "web" }`; a listener left out uses the runtime\'s `pool_default` ("Pools")',
      ),
    vhostSeparator: z
      .string()
      .default('')
      .describe(
        'what separates vhost and user in a username: `":"` reads `red:alice` as user `alice` of pool `vhost_pool("red")`; `\'\'` uses every username whole, unless the runtime implements its own `vhost_pool` (then `:`) ("Pools")',
      ),
    wsAnonymousSessionExpiry: withUnit(int(0, 4294967295), 's')
      .default(30)
      .describe('longest expiry of an anonymous WebSocket session after its transport went away (never longer than negotiated)'),
    wsCrawlerSessionExpiry: withUnit(int(0, 4294967295), 's')
      .default(10)
      .describe('the same for an anonymous WebSocket session of a crawler'),
    wsPort: port().default(-1).describe('port of the `ws://` listener (`--ws-port`); 0 picks a free one'),
    wsPath: z
      .string()
      .startsWith('/')
      .default('/mqtt')
      .describe('HTTP path of the WebSocket and WSS listeners, and of `attachWebSocket` by default'),
    tlsPort: port().default(-1).describe('port of the `mqtts://` listener (`--tls-port`); needs `tlsCert` and `tlsKey`'),
    wssPort: port().default(-1).describe('port of the `wss://` listener (`--wss-port`); needs `tlsCert` and `tlsKey`'),
    tlsCert: z
      .string()
      .default('')
      .describe(
        'PEM file of the server certificate (chain) of the TLS and WSS listeners (`--cert`); needed when `tlsPort` or `wssPort` is set',
      ),
    tlsKey: z.string().default('').describe('PEM file of the private key of `tlsCert` (`--key`)'),
    tlsCa: z.string().default('').describe('PEM file of the CAs client certificates are checked against (`--ca`)'),
    tlsRequestCert: z.boolean().default(false).describe('ask TLS and WSS clients for a certificate'),
    tlsRejectUnauthorized: z
      .boolean()
      .default(true)
      .describe('with `tlsRequestCert`: refuse a client without a certificate signed by a trusted CA'),
    proxyProtocol: z
      .union([z.boolean(), z.array(TRANSPORT).refine((l) => new Set(l).size === l.length, PROXY_EXPECTED)], {
        error: PROXY_EXPECTED,
      })
      .default(false)
      .describe(
        "the listeners whose connections start with a PROXY protocol v1 or v2 header (HAProxy, AWS NLB, nginx stream...): a list of `tcp`, `tls`, `ws`, `wss`, like VerneMQ's, EMQX's and HiveMQ's per-listener setting; `true` = `[\"tcp\"]` (`--proxy-protocol`), `false` = none. On `tls` and `wss` the header comes before the TLS handshake, as a load balancer passing TLS through sends it; on `ws` before the HTTP upgrade. Its client address and port are what sessions, plugins' `peer`, the `client-connected` detail and logs see (LOCAL and UNKNOWN keep the socket's). A missing or malformed header, or one over 107 bytes (v1) or 4096 bytes (v2), or one not complete within `connectTimeoutMs`, closes the connection with a warning naming the listener (`bad PROXY protocol header, closing`, `type`); on TCP header and CONNECT must both arrive within `connectTimeoutMs`, on TLS the handshake then has its own `connectTimeoutMs`. Name a listener only behind such a proxy, since any client reaching its port could claim any address",
      ),
    dataDir: withUnit(
      z.string().refine((s) => !s.includes('\0'), 'expected a directory path'),
      'path',
    )
      .default('')
      .describe(
        'directory of the durable state (persistent sessions, retained messages; LMDB), created if missing, `--data-dir`; \'\' keeps everything in memory (`--in-memory`); one broker per directory ("Persistence")',
      ),
    durability: z
      .enum(['os', 'sync'])
      .default('os')
      .describe(
        'when a commit to `dataDir` counts as done: `os` handed to the operating system (survives `kill -9`), `sync` flushed to disk (survives power loss)',
      ),
    cluster: CLUSTER.nullable()
      .default(null)
      .describe(
        'join other Shoal nodes as one broker over NATS ("Cluster"; `--cluster`, `--node-id`): `{ "servers": ["nats://127.0.0.1:4222"], "nodeId": "a" }` and optionally `subjectPrefix` (default `shoal`: first token of every subject, prefix of the key-value buckets), `handoverTimeoutMs` (default 2000: how long a node waits for the owner of a session to hand it over before taking it without its state), `connectWhileUnlinked` (default false: CONNECTs are refused with 0x88 / return code 3 while the link to NATS is down), `bucketReplicas` (default 1: copies JetStream keeps of the sessions and retained buckets; 3 on a NATS cluster; set when a bucket is first made). `nodeId` (letters, digits, `_`, `-`) must be unique and stay the same across restarts; `null` = no cluster',
      ),
  })
  .superRefine((config, ctx) => {
    if (config.tlsPort < 0 && config.wssPort < 0) return;
    for (const field of ['tlsCert', 'tlsKey'] as const) {
      if (config[field] === '') ctx.addIssue({ code: 'custom', path: [field], message: 'required when tlsPort or wssPort is set' });
    }
  });

// The schema and the BrokerConfig interface describe the same fields: a change to one that the other lacks fails to compile.
type Resolved = z.output<typeof CONFIG_SCHEMA>;
const sameFields: [Resolved, BrokerConfig] extends [BrokerConfig, Resolved] ? true : false = true;
void sameFields;

/** A configuration with problems: every one of them, each naming its field (and the file, when it came from one). */
export class ConfigError extends RangeError {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} configuration problems:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** `config.plugins[1].options`: the field an issue is about, as it would be written in JavaScript. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}.${String(key)}`), 'config');
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  // A value of the right kind for one form of a union ({ module, options }) is told what is wrong inside it.
  if (issue.code === 'invalid_union') {
    const inner = issue.errors.find((branch) => branch.some((i) => i.path.length > 0));
    if (inner) return inner.flatMap((i) => describeIssue({ ...i, path: [...issue.path, ...i.path] }));
  }
  const field = fieldOf(issue.path);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${field}.${key}: unknown field`);
  return [`${field}: ${issue.message}`];
}

/** The defaults of every field. */
export function defaultConfig(): BrokerConfig {
  return CONFIG_SCHEMA.parse({}) as BrokerConfig;
}

/**
 * `options` over the defaults, validated: every problem at once in one
 * ConfigError. A `$schema` key (an editor's hint in a JSON file) is ignored;
 * options that are not a plain object are refused.
 */
export function resolveConfig(options: ConfigOptions = {}): BrokerConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError([`config: expected an object of configuration fields, got ${JSON.stringify(options)}`]);
  }
  // No prototype: a `__proto__` key of a parsed JSON file stays a key (refused as unknown), not this object's prototype.
  const given = Object.create(null) as Record<string, unknown>;
  for (const [field, value] of Object.entries(options)) if (field !== '$schema' && value !== undefined) given[field] = value;
  const result = CONFIG_SCHEMA.safeParse(given);
  if (!result.success) throw new ConfigError(result.error.issues.flatMap(describeIssue));
  return result.data as BrokerConfig;
}

/** Defaults the configuration table states in words: a rule, or what the value means. */
const DEFAULT_TEXT: Partial<Record<keyof BrokerConfig, string>> = {
  workers: '0 on 2 cores or fewer, else cores − 1 (at most 4)',
  allowAnonymous: 'unset (`null` in a JSON file): `true` on a loopback `host`, else `false`',
  maxOutgoingPacketSize: '0 (none)',
  maxConnections: '0 (none)',
  metricsPort: '-1 (off)',
  wsPort: '-1 (off)',
  tlsPort: '-1 (off)',
  wssPort: '-1 (off)',
  responseInformation: "`''` (none)",
  runtime: "`''` (the default runtime)",
  vhostSeparator: "`''` (none)",
  tlsCa: "`''` (Node's CAs)",
  dataDir: "`''` (none); the `shoal` command: `shoal-data`",
  cluster: '`null` (none)',
};

const BINARY_UNITS: ReadonlyArray<[number, string]> = [
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
];

/** A default as the table shows it: sizes in KiB/MiB/GiB, strings and structures as code. */
function defaultText(field: keyof BrokerConfig, value: unknown, unit: string | undefined): string {
  const text = DEFAULT_TEXT[field];
  if (text !== undefined) return text;
  if (typeof value === 'number') {
    const binary = unit === 'bytes' && value > 0 ? BINARY_UNITS.find(([size]) => value % size === 0) : undefined;
    return binary === undefined ? String(value) : `${value / binary[0]} ${binary[1]}`;
  }
  if (typeof value === 'string') return value === '' ? "`''`" : `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

/** The configuration table of the README (between its config-table markers): field, default, unit, meaning. */
export function configTable(): string {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const properties = configJsonSchema()['properties'] as Record<string, { description?: string; unit?: string }>;
  const rows = Object.keys(defaults).map((field) => {
    const { description = '', unit } = properties[field] ?? {};
    const cells = [`\`${field}\``, defaultText(field as keyof BrokerConfig, defaults[field], unit), unit ?? '', description];
    return `|${cells.map((c) => (c === '' ? ' ' : ` ${c.replaceAll('|', '\\|')} `)).join('|')}|`;
  });
  return ['| field | default | unit | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The JSON Schema of a configuration file (what docs/broker.schema.json holds). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(CONFIG_SCHEMA, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const properties = schema['properties'] as Record<string, Record<string, unknown>>;
  // The default worker count depends on the machine's cores: the file states the rule, not one machine's value.
  delete properties['workers']?.['default'];
  return {
    ...schema,
    title: 'Shoal broker configuration',
    properties: { $schema: { type: 'string', description: 'The JSON Schema of this file, for editors.' }, ...properties },
  };
}
