/**
 * The brokers under test, each started in its own child process pinned to the
 * broker CPU list on a 127.0.0.1 port, for the bench orchestrator
 * (bench/cli.ts): Shoal (dist/src/main/cli/main.js, at a given worker count),
 * Aedes (bench/peers/aedes-server.ts), Mosquitto (/usr/sbin/mosquitto) and
 * the Node ceiling (bench/peers/node-ceiling.ts, the relay scenarios only),
 * and a Shoal cluster: its own nats-server (bench/peers/nats-server.ts) and N
 * Shoal nodes joined to it, all pinned to the broker CPU list.
 * Shoal and Mosquitto get generated config files that put them under
 * comparable limits (Aedes has none of these limits). A broker that cannot run here (binary or build
 * missing) raises BrokerUnavailable so that the run can skip it and say why.
 * A watched Shoal publishes `$SYS` every second and is scraped as a
 * monitoring system and an open status page would (bench/peers/watcher.ts).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { cpusAllowed } from '../load/measure.js';
import type { NatsProcess, ScenarioName } from '../load/result.js';
import { startNats } from './nats-server.js';
import { freePort, spawnPinned, stopProcess, tail, waitForPort } from './process.js';
import { watchBroker } from './watcher.js';

export type BrokerKind = 'shoal' | 'shoal-cluster' | 'aedes' | 'mosquitto' | 'ceiling';
export const PEERS: readonly BrokerKind[] = ['aedes', 'mosquitto', 'ceiling'];

/** The scenarios the Node ceiling can serve: it relays QoS 0 and answers CONNECT, nothing else. */
const CEILING_SCENARIOS: ReadonlySet<ScenarioName> = new Set(['fan-in', 'fan-out', 'connection-storm']);

/** Why `target` cannot run `scenario` at all, or null when it can. */
export function unsupported(target: BrokerTarget, scenario: ScenarioName): string | null {
  if (target.kind === 'ceiling' && !CEILING_SCENARIOS.has(scenario))
    return `the Node ceiling serves ${[...CEILING_SCENARIOS].join(', ')} only (no QoS, sessions or retained messages)`;
  return null;
}

/** One broker configuration of a run: Shoal once per worker count (and as a cluster), each peer once. */
export interface BrokerTarget {
  kind: BrokerKind;
  label: string;
  workers?: number;
  /** A cluster's Shoal nodes (default 2). */
  nodes?: number;
  /**
   * Shoal with the trivial plugin of trivial-plugin.ts: 'workers' loads it as
   * a module plugin in every actor host, 'main' registers it in the broker's
   * own process (`addPlugin`).
   */
  hooks?: 'workers' | 'main';
  /** Shoal with a data directory (`--data-dir`, a fresh temporary one), Mosquitto with `persistence true`; otherwise both in memory. */
  persist?: boolean;
  /** Shoal's `durability` with a data directory (default 'os'). */
  durability?: 'os' | 'sync';
  /**
   * Shoal watched ('on': `$SYS` every second, the monitoring server scraped
   * by watcher.ts) or not at all ('off': no `$SYS`, no monitoring server);
   * unset: the defaults (`$SYS` every 10 s, no monitoring server).
   */
  watch?: 'on' | 'off';
}

export interface RunningBroker {
  /** The process (a cluster: its first node) whose pid the report names. */
  pid: number;
  /** The MQTT ports: one, or a cluster's nodes' in order. */
  ports: number[];
  /** Every process of the broker, whose CPU counts as the broker's: one, or a cluster's nodes then its nats-server. */
  pids: number[];
  /** A cluster's nats-server (its monitoring port and pid); null otherwise. */
  nats: NatsProcess | null;
  /** Shoal's monitoring server (its per-thread figures), when it has one. */
  metricsPort: number | null;
  /** Cpus_allowed_list of the broker process, read back from /proc. */
  cpus: string;
  stop(): Promise<void>;
  /** How the process ended ("exit code 1", "signal SIGSEGV"), or null while it runs. */
  exitStatus(): string | null;
  /** The last few KiB of the broker's stdout and stderr. */
  output(): string;
}

export class BrokerUnavailable extends Error {}

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOAL_ENTRY = join(REPO_ROOT, 'dist/src/main/cli/main.js');
const SHOAL_EMBEDDED_ENTRY = fileURLToPath(new URL('./shoal-embedded.js', import.meta.url));
const TRIVIAL_PLUGIN = fileURLToPath(new URL('./trivial-plugin.js', import.meta.url));
const AEDES_ENTRY = fileURLToPath(new URL('./aedes-server.js', import.meta.url));
const CEILING_ENTRY = fileURLToPath(new URL('./node-ceiling.js', import.meta.url));
const MOSQUITTO_BIN = '/usr/sbin/mosquitto';
const NATS_BIN = '/usr/sbin/nats-server';
/** Where every broker listens. */
export const BROKER_HOST = '127.0.0.1';
/** How long a broker may take to accept its first TCP connection. */
const READY_TIMEOUT_MS = 15_000;

/** Deepest per-client queue of undelivered messages, for both Mosquitto and Shoal (their defaults are 1,000). */
const QUEUED_MESSAGES = 100_000;

/**
 * Shoal's config file (`--config`) for the bench: lifts the per-client
 * incoming PUBLISH rate limit (default 1,000 msgs/s plus a 5,000 burst; over
 * it the client is disconnected, which the flat-out phases would trip at
 * once) and matches Mosquitto's queue depth and in-flight settings below.
 */
function shoalConfig(target: BrokerTarget, metricsPort: number): string {
  const { hooks, durability, watch } = target;
  // A cluster node's $SYS messages would be routed to the others and stored in the retained bucket: NATS traffic beside the load's.
  const sysInterval = target.kind === 'shoal-cluster' ? 0 : watch === undefined ? undefined : watch === 'on' ? 1 : 0;
  return `${JSON.stringify({
    ...(durability === undefined ? {} : { durability }),
    ...(sysInterval === undefined ? {} : { sysInterval }),
    ...(metricsPort >= 0 ? { metricsPort } : {}),
    maxIncomingMessagesRate: 1e9,
    maxIncomingMessagesBurst: 1e9,
    maxOnlineMessages: QUEUED_MESSAGES,
    maxInflightMessages: 65535,
    ...(hooks === 'workers' ? { plugins: [TRIVIAL_PLUGIN] } : {}),
  })}\n`;
}

/**
 * Mosquitto settings: anonymous access, deep queues so that QoS 0/1 bursts
 * are not dropped at the default 1,000, no in-flight cap, no persistence.
 */
function mosquittoConfig(port: number, persistIn: string | undefined): string {
  return [
    `listener ${port} ${BROKER_HOST}`,
    'allow_anonymous true',
    `max_queued_messages ${QUEUED_MESSAGES}`,
    'max_inflight_messages 0',
    ...(persistIn === undefined ? ['persistence false'] : ['persistence true', `persistence_location ${persistIn}/`]),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

/** Writes a config file into a fresh temporary directory; `cleanup` removes the directory. */
function tempFile(name: string, content: string): { file: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return { file, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The command line of one broker process; `clusterArgs`: a cluster node's `--cluster` and `--node-id`. */
function command(
  target: BrokerTarget,
  port: number,
  metricsPort: number,
  clusterArgs: string[],
): { command: string; args: string[]; cleanup: () => void } {
  const none = (): void => undefined;
  switch (target.kind) {
    case 'shoal':
    case 'shoal-cluster': {
      if (!existsSync(SHOAL_ENTRY)) throw new BrokerUnavailable(`${SHOAL_ENTRY} not found (build Shoal first)`);
      const { file, dir, cleanup } = tempFile('shoal.json', shoalConfig(target, metricsPort));
      const workers = String(target.workers ?? 1);
      if (target.hooks === 'main') {
        const args = [SHOAL_EMBEDDED_ENTRY, '--port', String(port), '--host', BROKER_HOST, '--workers', workers, '--config', file];
        return { command: process.execPath, args, cleanup };
      }
      const store = target.persist ? ['--data-dir', join(dir, 'data')] : ['--in-memory'];
      const args = [
        SHOAL_ENTRY,
        '--port',
        String(port),
        '--host',
        BROKER_HOST,
        '--workers',
        workers,
        '--log-level',
        'warn',
        ...store,
        ...clusterArgs,
        '--config',
        file,
      ];
      return { command: process.execPath, args, cleanup };
    }
    case 'aedes':
      return { command: process.execPath, args: [AEDES_ENTRY, '--port', String(port), '--host', BROKER_HOST], cleanup: none };
    case 'ceiling':
      return { command: process.execPath, args: [CEILING_ENTRY, '--port', String(port), '--host', BROKER_HOST], cleanup: none };
    case 'mosquitto': {
      if (!existsSync(MOSQUITTO_BIN)) throw new BrokerUnavailable(`${MOSQUITTO_BIN} not found`);
      const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-'));
      const file = join(dir, 'mosquitto.conf');
      writeFileSync(file, mosquittoConfig(port, target.persist ? dir : undefined));
      const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
      return { command: MOSQUITTO_BIN, args: ['-c', file], cleanup };
    }
  }
}

/**
 * Starts the broker pinned to `cpus` and resolves once its port accepts TCP
 * connections (a cluster: once every node's does; the first node listens on
 * `port`).
 */
export function startBroker(target: BrokerTarget, port: number, cpus: string): Promise<RunningBroker> {
  return target.kind === 'shoal-cluster' ? startCluster(target, port, cpus) : startProcess(target, port, cpus, []);
}

/**
 * A nats-server, then the Shoal nodes one by one, each joined to it
 * (`--cluster`, `--node-id nodeN`); all share the broker CPUs. The nodes
 * have no monitoring server (so no per-thread figures) and no `$SYS`.
 */
async function startCluster(target: BrokerTarget, port: number, cpus: string): Promise<RunningBroker> {
  if (!existsSync(NATS_BIN)) throw new BrokerUnavailable(`${NATS_BIN} not found (Debian's nats-server package)`);
  const nats = await startNats(NATS_BIN, cpus, BROKER_HOST, await freePort());
  const nodes: RunningBroker[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await nats.stop();
  };
  try {
    for (let i = 0; i < (target.nodes ?? 2); i++) {
      const clusterArgs = ['--cluster', nats.url, '--node-id', `node${i + 1}`];
      nodes.push(await startProcess(target, i === 0 ? port : await freePort(), cpus, clusterArgs));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const first = nodes[0] as RunningBroker;
  const labelled = (what: string, status: string | null): string | null => (status === null ? null : `${what}: ${status}`);
  return {
    pid: first.pid,
    ports: nodes.flatMap((node) => node.ports),
    pids: [...nodes.map((node) => node.pid), nats.pid],
    nats: { monitorPort: nats.monitorPort, pid: nats.pid },
    metricsPort: null,
    cpus: first.cpus,
    stop,
    exitStatus: () =>
      [...nodes.map((node, i) => labelled(`node${i + 1}`, node.exitStatus())), labelled('nats-server', nats.exitStatus())]
        .filter((s) => s !== null)
        .join(', ') || null,
    output: () => [...nodes.map((node, i) => `node${i + 1}: ${node.output()}`), `nats-server: ${nats.output()}`].join('\n').slice(-4000),
  };
}

/** One broker process; `clusterArgs` as for command(). */
async function startProcess(target: BrokerTarget, port: number, cpus: string, clusterArgs: string[]): Promise<RunningBroker> {
  // Every Shoal gets its monitoring server (read twice per scenario for its per-thread figures) unless it runs unwatched.
  const metricsPort = target.kind === 'shoal' && target.watch !== 'off' ? await freePort() : -1;
  const { command: cmd, args, cleanup } = command(target, port, metricsPort, clusterArgs);
  const child: ChildProcess = spawnPinned(cpus, cmd, args);
  const stdout = tail(child.stdout);
  const stderr = tail(child.stderr);
  const output = (): string => `${stdout()}${stderr()}`.trim();
  let unwatch = (): void => undefined;
  const stop = async (): Promise<void> => {
    unwatch();
    await stopProcess(child);
    cleanup();
  };
  try {
    await waitForPort(child, port, BROKER_HOST, READY_TIMEOUT_MS);
  } catch (err) {
    await stop();
    const detail = output();
    throw new Error(`${target.label}: ${(err as Error).message}${detail === '' ? '' : `\n${detail}`}`, { cause: err });
  }
  if (target.watch === 'on') unwatch = watchBroker(BROKER_HOST, metricsPort);
  const pid = child.pid ?? 0;
  const exitStatus = (): string | null =>
    child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : null;
  return {
    pid,
    ports: [port],
    pids: [pid],
    nats: null,
    metricsPort: metricsPort >= 0 ? metricsPort : null,
    cpus: cpusAllowed(pid),
    stop,
    exitStatus,
    output,
  };
}
