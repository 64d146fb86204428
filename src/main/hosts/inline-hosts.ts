/**
 * Actor hosts on the main thread (`workers: 0`): the same ActorHost code as in
 * a worker, joined to the router by an in-thread endpoint pair, with its own
 * module plugins, a direct view of the in-process ones, and its session
 * store (an LmdbSessionStore in the data directory when `config.dataDir` is
 * set; the host closes it when it shuts down). Main thread.
 */
import { ActorHost } from '../../../workers/actor-host.js';
import { inlineEndpoints } from '../../shared/channel/endpoint.js';
import type { BrokerConfig } from '../../api/config.js';
import type { NamedPlugin } from '../../shared/hooks/chain.js';
import { loadPlugins } from '../../../workers/hooks/loader.js';
import { PluginBroker } from '../../../workers/hooks/plugin-broker.js';
import type { Logger } from '../../shared/log.js';
import { loadRuntime } from '../../../workers/runtime/loader.js';
import type { HostHandle, HostLauncher } from './host-handle.js';
import { LmdbSessionStore } from '../../../workers/session/lmdb-session-store.js';
import { hostCount } from '../../shared/placement.js';

export class InlineHosts implements HostLauncher {
  /** `inProcess`: the live list of the broker's in-process plugins. */
  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    private readonly inProcess: readonly NamedPlugin[],
  ) {}

  start(index: number): HostHandle {
    const [routerSide, hostSide] = inlineEndpoints();
    const log = this.log.child({ host: index });
    const { plugins } = this.config;
    const broker = new PluginBroker();
    const modules = plugins.length > 0 ? loadPlugins(plugins, index, log, broker) : [];
    const { dataDir, durability, workers } = this.config;
    const store = dataDir === '' ? undefined : new LmdbSessionStore({ dataDir, durability, index, hostCount: hostCount(workers), log });
    const host = new ActorHost(index, this.config, hostSide, log, undefined, {
      modules,
      inProcess: this.inProcess,
      runtime: loadRuntime(this.config.runtime, index, log),
      store,
      broker,
    });
    return { index, endpoint: routerSide, control: host.control, exited: host.stopped };
  }

  async close(): Promise<void> {}
}
