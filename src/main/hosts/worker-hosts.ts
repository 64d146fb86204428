/**
 * Actor hosts in worker threads, managed by piscina: one long-lived task per
 * worker (never a task per packet or per session), pinned one per thread, fed
 * through a transferred data port, controlled over comlink. Main thread.
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { portEndpoint } from '../../shared/channel/endpoint.js';
import { wrapPort } from '../../shared/channel/comlink-node.js';
import type { BrokerConfig } from '../../api/config.js';
import type { HostControl } from '../../shared/channel/host-control.js';
import type { HostHandle, HostLauncher } from './host-handle.js';
import type { HostTask } from '../../../workers/worker-main.js';

const WORKER_ENTRY = new URL('../../../workers/worker-main.js', import.meta.url);

export class WorkerHosts implements HostLauncher {
  private readonly pool: Piscina;

  constructor(private readonly config: BrokerConfig) {
    const n = config.workers;
    this.pool = new Piscina({
      filename: WORKER_ENTRY.href,
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      atomics: 'disabled',
      // One host per thread: a host task goes to a worker that runs none.
      loadBalancer: (_task, workers) => workers.find((w) => w.currentUsage === 0 && !w.terminating && !w.destroyed) ?? null,
    });
  }

  start(index: number): HostHandle {
    const data = new MessageChannel();
    const control = new MessageChannel();
    const task: HostTask = { index, config: this.config, dataPort: data.port2, controlPort: control.port2 };
    const exited = this.pool.run(task, { transferList: [data.port2, control.port2] }) as Promise<void>;
    exited.catch(() => undefined);
    const remote = wrapPort<HostControl>(control.port1);
    return {
      index,
      endpoint: portEndpoint(data.port1),
      control: {
        stats: () => remote.stats(),
        topSessions: (by, limit) => remote.topSessions(by, limit),
        shutdown: (redirect) => remote.shutdown(redirect),
        disconnect: (pool, clientId, request) => remote.disconnect(pool, clientId, request),
        handOver: (pool, clientId) => remote.handOver(pool, clientId),
        sessionKeys: () => remote.sessionKeys(),
        restore: (records) => remote.restore(records),
        ready: () => remote.ready(),
      },
      exited,
    };
  }

  /** The worker threads, for diagnostics and fault injection in tests. */
  get threads(): ReadonlyArray<import('node:worker_threads').Worker> {
    return this.pool.threads;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
