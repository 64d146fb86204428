/**
 * Actor hosts on the main thread (`workers: 0`): the same ActorHost code as in
 * a worker, joined to the router by an in-thread endpoint pair. Main thread.
 */
import { ActorHost } from '../../workers/actor-host.js';
import { inlineEndpoints } from '../channel/endpoint.js';
import type { BrokerConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { HostHandle, HostLauncher } from './host-handle.js';

export class InlineHosts implements HostLauncher {
  constructor(private readonly config: BrokerConfig, private readonly log: Logger) {}

  start(index: number): HostHandle {
    const [routerSide, hostSide] = inlineEndpoints();
    const host = new ActorHost(index, this.config, hostSide, this.log.child({ host: index }));
    return { index, endpoint: routerSide, control: host.control, exited: host.stopped };
  }

  async close(): Promise<void> {}
}
