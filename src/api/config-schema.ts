/**
 * The configuration schema (zod): every field's type, range, default and
 * unit in one place. resolveConfig validates options against it and reports
 * every problem at once, naming each field; defaultConfig is what it yields
 * for no options; configJsonSchema is the JSON Schema editors read for
 * `broker.json` (docs/broker.schema.json). Main thread; the resolved config
 * is plain data copied to every actor host.
 */
import { z } from 'zod';
import { defaultWorkerCount, type BrokerConfig } from './config.js';
import { LOG_FORMATS, LOG_LEVELS } from '../shared/log.js';
import { TRANSPORT_NAMES } from '../shared/transport.js';

/** The unit of a field's value, shown beside its default in the docs. */
type Unit = 'bytes' | 'ms' | 's' | 'messages' | 'msgs/s' | 'connections' | 'characters' | 'levels' | 'threads' | 'batches' | 'frames';

const int = (min: number, max: number): z.ZodNumber => z.number().int().min(min).max(max);
const port = (): z.ZodNumber => int(-1, 65535);
const withUnit = <T extends z.ZodType>(schema: T, unit: Unit): T => schema.meta({ unit });

const PROXY_EXPECTED = 'expected a boolean (true: the TCP listener) or a list of distinct listeners (tcp, tls, ws, wss)';
const MODULE_EXPECTED = 'expected a module path, a package name or { module, options }';
/** A plugin or runtime module given with options for its factory. */
const MODULE_WITH_OPTIONS = z.strictObject({ module: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() });

const TRANSPORT = z.enum(TRANSPORT_NAMES);

export const CONFIG_SCHEMA = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Address every listener binds to.'),
    port: int(0, 65535).default(1883).describe('TCP port of the MQTT listener; 0 picks a free port.'),
    workers: withUnit(int(0, 256), 'threads')
      .default(defaultWorkerCount)
      .describe(
        'Worker threads hosting session actors; 0 hosts them on the main thread (default: 0 on two cores or fewer, else one per core beyond the main thread, at most 4).',
      ),
    logLevel: z.enum(LOG_LEVELS).default('info').describe('pino log level.'),
    logFormat: z
      .enum(LOG_FORMATS)
      .default('auto')
      .describe("'json' lines, 'pretty' lines, or 'auto': pretty when stdout is a terminal, else JSON."),
    allowAnonymous: z
      .boolean()
      .nullable()
      .default(null)
      .transform((v) => v ?? undefined)
      .describe('Accept clients no plugin authenticated. Unset (null): only while host is a loopback address.'),
    maxIncomingPacketSize: withUnit(int(64, 268435455), 'bytes')
      .default(20 * 1024 * 1024)
      .describe('Largest packet accepted from a client.'),
    maxOutgoingPacketSize: withUnit(int(0, 268435455), 'bytes')
      .default(0)
      .describe("Largest packet sent to a client; 0 = the client's own Maximum Packet Size."),
    connectTimeoutMs: withUnit(int(100, 3_600_000), 'ms').default(10_000).describe('Time a new connection has to send CONNECT.'),
    handshakeTimeoutMs: withUnit(int(100, 3_600_000), 'ms').default(30_000).describe('Time from a CONNECT to its CONNACK.'),
    maxConnections: withUnit(int(0, 10_000_000), 'connections')
      .default(0)
      .describe('Open client connections accepted at once; 0 = unlimited.'),
    maxClientIdLength: withUnit(int(23, 65535), 'characters').default(100).describe('Longest client identifier accepted.'),
    maxTopicLength: withUnit(int(1, 65535), 'bytes').default(65535).describe('Longest topic name or filter accepted.'),
    maxTopicLevels: withUnit(int(1, 65535), 'levels').default(128).describe('Most levels in a topic name or filter.'),
    maxKeepalive: withUnit(int(1, 65535), 's').default(60).describe('Highest keepalive granted (5.0: Server Keep Alive).'),
    persistentSessionExpiry: withUnit(int(0, 4294967295), 's')
      .default(7200)
      .describe('Session expiry of 3.1.1 clients with clean session 0.'),
    sysInterval: withUnit(int(0, 86400), 's').default(10).describe('Interval of the $SYS/broker/... figures; 0 = none.'),
    metricsPort: port()
      .default(-1)
      .describe('Port of the monitoring HTTP server (/metrics, /healthz, /readyz, status page); -1 = off, 0 = a free port.'),
    metricsHost: z.string().min(1).default('127.0.0.1').describe('Address of the monitoring HTTP server.'),
    readinessTimeoutMs: withUnit(int(1, 60_000), 'ms').default(1000).describe('How long /readyz waits for each actor host.'),
    maxSessionExpiryInterval: withUnit(int(0, 4294967295), 's')
      .default(86400)
      .describe('Cap on the Session Expiry Interval a 5.0 client may ask for.'),
    maxInflightMessages: withUnit(int(1, 65535), 'messages')
      .default(20)
      .describe('Unacknowledged QoS 1/2 messages sent to one client at once.'),
    receiveMaximum: withUnit(int(1, 65535), 'messages')
      .default(1024)
      .describe('Receive Maximum told to 5.0 clients: QoS 2 publishes awaiting PUBREL; one more is DISCONNECT 0x93.'),
    maxOnlineMessages: withUnit(int(0, 100_000_000), 'messages')
      .default(1000)
      .describe('Messages queued for a connected session beyond its inflight window.'),
    maxOfflineMessages: withUnit(int(0, 100_000_000), 'messages')
      .default(1000)
      .describe('Messages queued for a disconnected persistent session.'),
    maxOnlineBytes: withUnit(int(0, Number.MAX_SAFE_INTEGER), 'bytes')
      .default(32 * 1024 * 1024)
      .describe('Estimated bytes queued for a connected session; 0 = no byte cap.'),
    maxOfflineBytes: withUnit(int(0, Number.MAX_SAFE_INTEGER), 'bytes')
      .default(32 * 1024 * 1024)
      .describe('Estimated bytes queued for a disconnected session; 0 = no byte cap.'),
    queueDropPolicy: z.enum(['newest', 'oldest']).default('oldest').describe('Which message a full session queue drops.'),
    maxIncomingMessagesRate: withUnit(z.number().min(1).max(1e9), 'msgs/s')
      .default(1000)
      .describe('Sustained incoming PUBLISH rate per session (token bucket).'),
    maxIncomingMessagesBurst: withUnit(int(0, 1e9), 'messages')
      .default(5000)
      .describe('Incoming PUBLISH burst per session on top of the rate.'),
    maxRetainedMemory: withUnit(int(0, Number.MAX_SAFE_INTEGER), 'bytes')
      .default(500 * 1024 * 1024)
      .describe('Retained messages held per pool before eviction.'),
    maxConnectionBufferBytes: withUnit(int(1024, 1024 * 1024 * 1024), 'bytes')
      .default(2 * 1024 * 1024)
      .describe("Bytes waiting in one client's socket above which QoS 0 messages to it are dropped."),
    maxPendingBatches: withUnit(int(2, 1_000_000), 'batches')
      .default(64)
      .describe('Batches an actor host has not handled above which its clients are not read.'),
    batchFlushBytes: withUnit(int(1024, 64 * 1024 * 1024), 'bytes')
      .default(64 * 1024)
      .describe('A data-plane batch is flushed early at this size.'),
    batchFlushFrames: withUnit(int(1, 1_000_000), 'frames')
      .default(256)
      .describe('A data-plane batch is flushed early at this many frames.'),
    topicAliasMaximum: int(0, 65535).default(10).describe('Topic Alias Maximum told to 5.0 clients; 0 = none.'),
    maxOutgoingTopicAliases: int(0, 65535).default(10).describe('Topic aliases the broker assigns towards one 5.0 client; 0 = never.'),
    sharedSubscriptionStrategy: z
      .enum(['round-robin', 'random', 'sticky'])
      .default('round-robin')
      .describe('How a shared subscription group picks a member.'),
    responseInformation: z
      .string()
      .refine((s) => Buffer.byteLength(s) <= 65535, 'expected at most 65535 bytes')
      .default('')
      .describe("Response Information sent to 5.0 clients that ask for it; '' = none."),
    plugins: z
      .array(z.union([z.string().min(1), MODULE_WITH_OPTIONS], { error: MODULE_EXPECTED }))
      .default([])
      .describe('Plugin modules every actor host loads: a path, a package name, shoal/passwd, shoal/acl, or { module, options }.'),
    pluginTimeoutMs: withUnit(int(1, 3_600_000), 'ms').default(5000).describe('Longest wait for a hook that answers asynchronously.'),
    runtime: z
      .union([z.string(), MODULE_WITH_OPTIONS], { error: MODULE_EXPECTED })
      .default('')
      .describe("The session runtime module; '' = the default runtime."),
    listenerPools: z.partialRecord(TRANSPORT, z.string()).default({}).describe('The pool of each listener whose usernames name no vhost.'),
    vhostSeparator: z.string().default('').describe("What separates the vhost from the user in a username; '' = usernames are used whole."),
    wsAnonymousSessionExpiry: withUnit(int(0, 4294967295), 's').default(30).describe('Longest expiry of an anonymous WebSocket session.'),
    wsCrawlerSessionExpiry: withUnit(int(0, 4294967295), 's')
      .default(10)
      .describe("Longest expiry of a crawler's anonymous WebSocket session."),
    wsPort: port().default(-1).describe('Port of the WebSocket listener; -1 = off, 0 = a free port.'),
    wsPath: z.string().startsWith('/').default('/mqtt').describe('HTTP path of the WebSocket and WSS listeners.'),
    tlsPort: port().default(-1).describe('Port of the TLS listener; -1 = off, 0 = a free port. Needs tlsCert and tlsKey.'),
    wssPort: port().default(-1).describe('Port of the secure WebSocket listener; -1 = off, 0 = a free port. Needs tlsCert and tlsKey.'),
    tlsCert: z.string().default('').describe('PEM file with the server certificate (and chain).'),
    tlsKey: z.string().default('').describe('PEM file with the private key of tlsCert.'),
    tlsCa: z.string().default('').describe("PEM file with the CA certificates for client certificates; '' = Node's default CAs."),
    tlsRequestCert: z.boolean().default(false).describe('Ask TLS and WSS clients for a certificate.'),
    tlsRejectUnauthorized: z.boolean().default(true).describe('With tlsRequestCert: refuse a client without a trusted certificate.'),
    proxyProtocol: z
      .union([z.boolean(), z.array(TRANSPORT).refine((l) => new Set(l).size === l.length, PROXY_EXPECTED)], {
        error: PROXY_EXPECTED,
      })
      .default(false)
      .describe('Listeners whose connections start with a PROXY protocol header: a list of tcp, tls, ws, wss; true = [tcp].'),
    dataDir: z
      .string()
      .refine((s) => !s.includes('\0'), 'expected a directory path')
      .default('')
      .describe("Directory of the broker's durable state; '' = everything in memory."),
    durability: z
      .enum(['os', 'sync'])
      .default('os')
      .describe("When a write counts as committed: 'os' (handed to the OS) or 'sync' (flushed)."),
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
export function resolveConfig(options: Partial<BrokerConfig> = {}): BrokerConfig {
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
