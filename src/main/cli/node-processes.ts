/**
 * `shoal --processes N`: N nodes of one cluster on this machine behind the
 * same listening ports, which is how one machine's cores serve more than
 * one main thread can drive. The first process (node:cluster's primary)
 * holds the listening sockets and hands each new connection to a node
 * process in turn; each node process is a whole broker joined to the
 * cluster as `{nodeId}-{i}`, with its own data directory
 * (`{dataDir}/node-{i}`) and, for a fixed `metricsPort`, its own monitoring
 * port (`metricsPort + i`). A node that fails before it listens stops them
 * all (exit 1); one that dies later is started again; SIGINT and SIGTERM
 * stop them all gracefully. Main thread of the primary process, and
 * `configForProcess` in each node process.
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import type { BrokerConfig, ClusterConfig } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';
import { PROCESS_INDEX_ENV } from './args.js';

/** How long the primary waits before it starts a node process that died, in ms. */
const RESTART_DELAY_MS = 1000;

/** This process's index among the node processes of `--processes`; undefined in a process that is not one. */
export function processIndex(): number | undefined {
  const index = process.env[PROCESS_INDEX_ENV];
  return cluster.isWorker && index !== undefined ? Number(index) : undefined;
}

/** The configuration of node process `index`: its node id, data directory and monitoring port. */
export function configForProcess(config: Partial<BrokerConfig>, index: number): Partial<BrokerConfig> {
  const own: Partial<BrokerConfig> = { ...config };
  const nodeId = config.cluster?.nodeId;
  // A missing node id stays missing, for the schema to name it.
  if (config.cluster && typeof nodeId === 'string') own.cluster = { ...config.cluster, nodeId: `${nodeId}-${index}` } as ClusterConfig;
  if (config.dataDir) own.dataDir = join(config.dataDir, `node-${index}`);
  if (config.metricsPort !== undefined && config.metricsPort > 0) own.metricsPort = config.metricsPort + index;
  return own;
}

/** A node process whose broker closed lets go of its channel to the primary, which would keep it running. */
export function leavePrimary(): void {
  if (cluster.isWorker) cluster.worker?.disconnect();
}

/** Starts `count` node processes and watches them until SIGINT or SIGTERM; resolves with the exit code. */
export function runNodeProcesses(count: number, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    const running = new Map<number, Worker>();
    let stopping = false;
    let code = 0;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (running.size === 0) resolve(code);
      for (const worker of running.values()) worker.process.kill('SIGTERM');
    };
    const start = (index: number): void => {
      let listening = false;
      const worker = cluster.fork({ [PROCESS_INDEX_ENV]: String(index) });
      running.set(index, worker);
      worker.once('listening', () => {
        listening = true;
      });
      worker.once('exit', (exitCode, signal) => {
        running.delete(index);
        if (stopping) {
          if (running.size === 0) resolve(code);
          return;
        }
        if (!listening) {
          log.error({ node: index, exitCode, signal }, 'a node process failed before it listened; stopping every node');
          code = 1;
          stop();
          return;
        }
        log.warn({ node: index, exitCode, signal }, 'a node process died; starting it again');
        setTimeout(() => {
          if (!stopping) start(index);
        }, RESTART_DELAY_MS);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    for (let index = 0; index < count; index++) start(index);
    log.info({ processes: count }, 'node processes started');
  });
}
