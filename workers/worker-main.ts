/**
 * Entry of a worker thread in the piscina pool. One long-lived task per
 * worker: it hosts an ActorHost on the transferred data port, loads the
 * module plugins and the runtime of the config into it, gives it its session
 * store (an LmdbSessionStore in the data directory when `config.dataDir` is
 * set; a worker started in place of a failed one takes back the sessions of
 * its index from there), serves the host's control surface over comlink on
 * the control port (its stats with the thread's load), and resolves only
 * when the host stops. Worker thread.
 */
import type { MessagePort } from 'node:worker_threads';
import { exposeOnPort } from '../src/shared/channel/comlink-node.js';
import { portEndpoint } from '../src/shared/channel/endpoint.js';
import type { BrokerConfig } from '../src/api/config.js';
import { loadPlugins } from './hooks/loader.js';
import { PluginBroker } from './hooks/plugin-broker.js';
import { createLogger } from '../src/shared/log.js';
import { loadRuntime } from './runtime/loader.js';
import { ActorHost } from './actor-host.js';
import { hostCount } from '../src/shared/placement.js';
import { LmdbSessionStore } from './session/lmdb-session-store.js';
import { ThreadLoad } from '../src/shared/thread-load.js';
import type { HostControl } from '../src/shared/channel/host-control.js';

export interface HostTask {
  index: number;
  config: BrokerConfig;
  dataPort: MessagePort;
  controlPort: MessagePort;
}

export default async function hostTask(task: HostTask): Promise<void> {
  const log = createLogger(task.config.logLevel, `host-${task.index}`, task.config.logFormat);
  const { plugins } = task.config;
  const broker = new PluginBroker();
  const modules = plugins.length > 0 ? loadPlugins(plugins, task.index, log, broker) : [];
  const { dataDir, durability, workers } = task.config;
  const store =
    dataDir === '' ? undefined : new LmdbSessionStore({ dataDir, durability, index: task.index, hostCount: hostCount(workers), log });
  const host = new ActorHost(task.index, task.config, portEndpoint(task.dataPort), log, undefined, {
    modules,
    runtime: loadRuntime(task.config.runtime, task.index, log),
    store,
    broker,
  });
  const load = new ThreadLoad();
  const control: HostControl = { ...host.control, stats: async () => ({ ...host.stats(), thread: load.stats() }) };
  exposeOnPort(control, task.controlPort);
  await host.stopped;
  load.close();
  task.controlPort.close();
}
