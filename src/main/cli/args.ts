/**
 * Command-line options of `shoal` (serve mode), parsed with node:util
 * parseArgs and merged over `SHOAL_*` environment variables, which are
 * merged over the JSON config file. Unlike `createBroker`, the command
 * persists by default (in CLI_DATA_DIR). Main thread.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BrokerConfig, ClusterConfig, LogFormat, LogLevel } from '../../api/config.js';
import { ConfigError, defaultConfig } from '../../api/config-schema.js';

/** The data directory of the command when neither a flag nor the config file names one (relative to the working directory). */
export const CLI_DATA_DIR = 'shoal-data';

export const USAGE = `Usage: shoal [options]
       shoal passwd [-D] FILE USER     (password file of the shoal/passwd plugin; see: shoal passwd --help)

Runs the Shoal MQTT 3.1.1/5.0 broker. On its defaults it listens on
127.0.0.1:1883, allows anonymous clients, and keeps persistent sessions and
retained messages in ./${CLI_DATA_DIR}. Anonymous clients are allowed only
while it listens on a loopback address: with --host 0.0.0.0 (or any other
address) they are refused (CONNACK 0x87; 3.1.1 return code 5) unless
--allow-anonymous true (or the config file's allowAnonymous) says otherwise.

Options:
  --port N          TCP port (default 1883)
  --host ADDR       address every listener binds (default 127.0.0.1)
  --allow-anonymous true|false
                    accept clients no plugin authenticated (default: true on a loopback
                    --host such as 127.0.0.1, ::1 or localhost, false on any other;
                    true on another address logs a warning at start)
  --workers N       worker threads hosting sessions; 0 = main thread only
  --config FILE     JSON file with any configuration field (broker.example.json lists every field with its default)
  --log-level LVL   fatal|error|warn|info|debug|trace|silent (default info)
  --log-format FMT  pretty|json: readable lines or JSON lines (default: pretty when stdout
                    is a terminal, else json)
  --ws-port N       MQTT over WebSocket (ws://, path wsPath, default /mqtt);
                    -1 = off (default), 0 = any free port
  --tls-port N      MQTT over TLS (mqtts://); -1 = off (default); needs --cert, --key
  --wss-port N      MQTT over secure WebSocket (wss://); -1 = off (default); needs --cert, --key
  --cert FILE       PEM server certificate (chain) of the TLS and WSS listeners
  --key FILE        PEM private key of --cert
  --ca FILE         PEM CA certificates for client certificates (config tlsRequestCert)
  --proxy-protocol  TCP connections start with a PROXY protocol v1/v2 header (behind a
                    load balancer); the client address comes from it (config
                    proxyProtocol: a list of listeners, e.g. ["tcp", "tls", "wss"])
  --data-dir DIR    keep persistent sessions and retained messages in DIR (created if missing; one broker per
                    directory; default ./${CLI_DATA_DIR}, or the config file's dataDir)
  --in-memory       keep everything in memory, whatever the config file's dataDir
  --metrics-port N  monitoring HTTP server: /metrics (Prometheus), /healthz, /readyz and a
                    live status page at /; -1 = off (default), 0 = any free port
  --metrics-host A  address of the monitoring HTTP server (default 127.0.0.1)
  --cluster URLS    join other Shoal nodes as one broker over NATS (comma-separated
                    nats://host:port URLs; needs --node-id or the config's cluster.nodeId)
  --node-id ID      this node's name in the cluster: unique, the same across restarts
  --processes N     run N nodes of the cluster in N processes behind the same ports (node ids
                    ID-0 … ID-N-1, data directories DIR/node-0 …, a fixed metrics port + i);
                    needs --cluster
  --check-config    check the configuration (file, environment, flags), print every problem, and exit
                    (0 when it is valid, 1 when not)
  --print-config    print the resolved configuration as JSON (every field, defaults included) and exit
  -h, --help        this text
  --version         the version of Shoal
Every configuration field can also be set in the environment as SHOAL_ and its
name in capitals with underscores (maxInflightMessages: SHOAL_MAX_INFLIGHT_MESSAGES;
lists and objects as JSON). Command-line options win over the environment,
which wins over the config file. docs/broker.schema.json is the file's JSON
Schema ("$schema" in the file lets an editor check and complete it). SIGHUP
makes the bundled plugins (shoal/passwd, shoal/acl) re-read their files.`;

export interface CliOptions {
  help: boolean;
  /** `--version`: print the version and exit. */
  version: boolean;
  /** `--check-config`: report on the configuration and exit. */
  checkConfig: boolean;
  /** `--print-config`: print the resolved configuration and exit. */
  printConfig: boolean;
  config: Partial<BrokerConfig>;
  /** SHOAL_* environment variables that name no configuration field (ignored; a typo, or another program's). */
  unknownEnv: string[];
  /** `--processes`: how many node processes serve the same ports (1: this process alone). */
  processes: number;
}

/** Set by `--processes` in each node process it starts: the process's index (src/main/cli/node-processes.ts). */
export const PROCESS_INDEX_ENV = 'SHOAL_PROCESS_INDEX';

/** The environment variable of a configuration field: maxInflightMessages → SHOAL_MAX_INFLIGHT_MESSAGES. */
export function envName(field: string): string {
  return `SHOAL_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/**
 * The configuration fields set in `env` (SHOAL_*), read by the kind of
 * each field's default: numbers and booleans as such, lists and objects
 * (plugins, listenerPools, proxyProtocol, runtime, cluster) as JSON, strings as they
 * are; `allowAnonymous` also takes '' (unset). Also the SHOAL_ variables that
 * name no field.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): { config: Partial<BrokerConfig>; unknown: string[] } {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const byName = new Map(Object.keys(defaults).map((f) => [envName(f), f]));
  const config: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SHOAL_') || name === PROCESS_INDEX_ENV || raw === undefined) continue;
    const field = byName.get(name);
    if (field === undefined) unknown.push(name);
    else config[field] = envValue(name, field, defaults[field], raw);
  }
  return { config: config as Partial<BrokerConfig>, unknown };
}

/** Fields whose value may be a list or an object, given as JSON. */
const JSON_FIELDS = new Set(['plugins', 'listenerPools', 'proxyProtocol', 'runtime', 'cluster']);

/**
 * The value of the SHOAL_ variable `name` for `field`, by the kind of the
 * field's default (`example`); the schema checks it with the rest. JSON that
 * does not parse is an error naming the variable.
 */
function envValue(name: string, field: string, example: unknown, raw: string): unknown {
  const text = raw.trim();
  if (JSON_FIELDS.has(field) && (text.startsWith('[') || text.startsWith('{'))) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigError([`${name}: ${(err as Error).message}`]);
    }
  }
  if (typeof example === 'number') return text === '' ? raw : Number(text);
  // allowAnonymous is unset (undefined) by default; '' leaves it so.
  if (typeof example === 'boolean' || example === undefined) {
    if (text === 'true' || text === 'false') return text === 'true';
    if (example === undefined && text === '') return null;
  }
  return raw;
}

/** The flags whose value is a number that may be negative (-1 = off). */
const NUMBER_FLAGS = ['--port', '--workers', '--ws-port', '--tls-port', '--wss-port', '--metrics-port'];

/**
 * `--ws-port -1` as `--ws-port=-1`: node:util parseArgs (Node 20) takes a
 * value starting with '-' for an option, so the "-1 = off" the help names
 * would be refused as ambiguous.
 */
function joinNegativeNumbers(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (NUMBER_FLAGS.includes(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: joinNegativeNumbers(argv),
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-anonymous': { type: 'string' },
      workers: { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'ws-port': { type: 'string' },
      'tls-port': { type: 'string' },
      'wss-port': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'proxy-protocol': { type: 'boolean' },
      'data-dir': { type: 'string' },
      'in-memory': { type: 'boolean' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      cluster: { type: 'string' },
      'node-id': { type: 'string' },
      processes: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
      'check-config': { type: 'boolean' },
      'print-config': { type: 'boolean' },
    },
    strict: true,
  });
  const fromEnv = configFromEnv(process.env);
  const config: Partial<BrokerConfig> = { ...(values.config ? readConfigFile(values.config) : {}), ...fromEnv.config };
  if (values.port !== undefined) config.port = toNumber('--port', values.port);
  if (values.host !== undefined) config.host = values.host;
  if (values['allow-anonymous'] !== undefined) config.allowAnonymous = toBoolean('--allow-anonymous', values['allow-anonymous']);
  if (values.workers !== undefined) config.workers = toNumber('--workers', values.workers);
  if (values['log-level'] !== undefined) config.logLevel = values['log-level'] as LogLevel;
  if (values['log-format'] !== undefined) config.logFormat = values['log-format'] as LogFormat;
  if (values['ws-port'] !== undefined) config.wsPort = toNumber('--ws-port', values['ws-port']);
  if (values['tls-port'] !== undefined) config.tlsPort = toNumber('--tls-port', values['tls-port']);
  if (values['wss-port'] !== undefined) config.wssPort = toNumber('--wss-port', values['wss-port']);
  if (values.cert !== undefined) config.tlsCert = values.cert;
  if (values.key !== undefined) config.tlsKey = values.key;
  if (values.ca !== undefined) config.tlsCa = values.ca;
  if (values['proxy-protocol'] === true) config.proxyProtocol = true;
  if (values['metrics-port'] !== undefined) config.metricsPort = toNumber('--metrics-port', values['metrics-port']);
  if (values['metrics-host'] !== undefined) config.metricsHost = values['metrics-host'];
  if (values['data-dir'] !== undefined && values['in-memory'] === true) throw new TypeError('--data-dir and --in-memory: give one of them');
  if (values['data-dir'] !== undefined) {
    if (values['data-dir'] === '') throw new TypeError('--data-dir: expected a directory');
    config.dataDir = values['data-dir'];
  }
  if (values['in-memory'] === true) config.dataDir = '';
  config.dataDir ??= CLI_DATA_DIR;
  if (values.cluster !== undefined || values['node-id'] !== undefined)
    config.cluster = clusterFrom(config, values.cluster, values['node-id']);
  const processes = values.processes === undefined ? 1 : toNumber('--processes', values.processes);
  if (!Number.isInteger(processes) || processes < 1 || processes > 256)
    throw new TypeError('--processes: expected a whole number in 1..256');
  if (processes > 1 && !config.cluster) throw new TypeError('--processes: needs --cluster (the processes are nodes of one cluster)');
  return {
    help: values.help === true,
    version: values.version === true,
    checkConfig: values['check-config'] === true,
    printConfig: values['print-config'] === true,
    config,
    unknownEnv: fromEnv.unknown,
    processes,
  };
}

/** The cluster fields of the config file and environment with `--cluster` and `--node-id` over them. */
function clusterFrom(config: Partial<BrokerConfig>, servers: string | undefined, nodeId: string | undefined): ClusterConfig {
  const given = (config.cluster ?? {}) as Partial<ClusterConfig>;
  if (servers === undefined && given.servers === undefined)
    throw new TypeError('--node-id: needs --cluster (or cluster.servers in the config)');
  const cluster = { ...given } as ClusterConfig;
  if (servers !== undefined) cluster.servers = servers.split(',').map((url) => url.trim());
  if (nodeId !== undefined) cluster.nodeId = nodeId;
  return cluster;
}

/** The JSON config file: a syntax error names the file; prototype keys (`__proto__`) are refused, not merged. */
function readConfigFile(path: string): Partial<BrokerConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${path}: ${(err as Error).message}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`${path}: expected a JSON object of configuration fields`]);
  }
  if (Object.hasOwn(parsed, '__proto__')) throw new ConfigError([`${path}: config.__proto__: unknown field`]);
  return parsed as Partial<BrokerConfig>;
}

function toBoolean(flag: string, value: string): boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  throw new TypeError(`${flag}: expected true or false, got "${value}"`);
}

function toNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n)) throw new TypeError(`${flag}: expected a number, got "${value}"`);
  return n;
}
