/**
 * Supervision of the actor hosts: starts one per router shard (inline on the
 * main thread with `workers: 0`, else in piscina worker threads), starts a
 * new host in place of one whose worker failed, and fans the control calls
 * out to every host: readiness (module plugins, runtime and, with a
 * dataDir, stored sessions loaded), whether each host is up and answers,
 * stats, the top sessions, shutdown; a server-initiated disconnect goes to
 * the host that owns the client's session. Main thread.
 */
import type { BrokerConfig } from '../../api/config.js';
import type { BatchEndpoint } from '../../shared/channel/endpoint.js';
import {
  sessionWeight,
  type HostStats,
  type MovedSession,
  type ServerDisconnect,
  type ServerRedirect,
  type SessionSummary,
  type TopSessionsBy,
} from '../../shared/channel/host-control.js';
import { withTimeout } from '../../shared/async.js';
import type { NamedPlugin } from '../../shared/hooks/chain.js';
import type { Logger } from '../../shared/log.js';
import type { HostHandle, HostLauncher } from './host-handle.js';
import { InlineHosts } from './inline-hosts.js';
import { hostCount, hostFor } from '../../shared/placement.js';
import { DEFAULT_POOL } from '../../shared/topic/topic.js';
import { WorkerHosts } from './worker-hosts.js';

/** How long shutdown() waits for a host to tell its clients goodbye before its worker is stopped anyway, in ms. */
const HOST_SHUTDOWN_TIMEOUT_MS = 5000;

/** What the supervisor tells the data plane about the hosts' lives. */
export interface HostLifecycle {
  /** Host `index` started (at first, or in place of a failed one); its batches come and go through `endpoint`. */
  started(index: number, endpoint: BatchEndpoint): void;
  /** Host `index` failed and a new one was started in its place: it holds the sessions stored for its index (with a dataDir), none otherwise. */
  failed(index: number, err: unknown): void;
}

export class HostSupervisor {
  private readonly launcher: HostLauncher;
  private readonly hosts: HostHandle[] = [];
  /** Per host: it loaded (its `ready()` resolved) and has not failed since. */
  private readonly up: boolean[] = [];
  private loaded: Promise<string[]> | undefined;
  private closing = false;

  /** Starts the hosts. `inProcess`: the live list of in-process plugins, which inline hosts call directly. */
  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    inProcess: readonly NamedPlugin[],
    private readonly lifecycle: HostLifecycle,
  ) {
    this.launcher = config.workers === 0 ? new InlineHosts(config, log, inProcess) : new WorkerHosts(config);
    for (let i = 0; i < hostCount(config.workers); i++) this.start(i);
  }

  /**
   * Resolves once every host has loaded its module plugins, runtime and
   * stored sessions (at once without any) with the hooks the module plugins
   * implement; rejects with a loading error. Asked once.
   */
  ready(): Promise<string[]> {
    this.loaded ??= (async () => {
      const { plugins, runtime, dataDir } = this.config;
      if (plugins.length === 0 && runtime === '' && dataDir === '') return [];
      const hooks = await Promise.all(this.hosts.map((h) => h.control.ready()));
      return hooks.flat();
    })();
    return this.loaded;
  }

  stats(): Promise<HostStats[]> {
    return Promise.all(this.hosts.map((h) => h.control.stats()));
  }

  /** Per host: it is up and answered a control call within `timeoutMs` (`ready()`: a round trip that does no work of its own). */
  answering(timeoutMs: number): Promise<boolean[]> {
    const no = (): boolean => false;
    return Promise.all(
      this.hosts.map((h, index) =>
        this.up[index]
          ? withTimeout(
              h.control.ready().then(() => true),
              timeoutMs,
              no,
              no,
            )
          : Promise.resolve(false),
      ),
    );
  }

  /** The `limit` sessions with the most queued and inflight messages (or packets) over every host, most first. */
  async topSessions(by: TopSessionsBy, limit: number): Promise<SessionSummary[]> {
    const perHost = await Promise.all(this.hosts.map((h) => h.control.topSessions(by, limit)));
    const weight = sessionWeight(by);
    return perHost
      .flat()
      .sort((a, b) => weight(b) - weight(a))
      .slice(0, limit);
  }

  /** Asks the host that owns the client's session to hand it over to another node (HostControl.handOver). */
  handOver(pool: string, clientId: string): Promise<MovedSession | undefined> {
    return this.hostOf(clientId).control.handOver(pool, clientId);
  }

  /** The pool and client id of every session of every host. */
  async sessionKeys(): Promise<Array<{ pool: string; clientId: string }>> {
    return (await Promise.all(this.hosts.map((h) => h.control.sessionKeys()))).flat();
  }

  /** Gives a session handed over by another node to the host that owns its client id. */
  restore(record: MovedSession): Promise<void> {
    return this.hostOf(record.clientId).control.restore([record]);
  }

  /** The host of a client id's session (a rewritten one too). */
  private hostOf(clientId: string): HostHandle {
    return this.hosts[hostFor(DEFAULT_POOL, clientId, this.hosts.length)]!;
  }

  /** Asks the host that owns the client's session to disconnect it (a session lives on its client id's host, a rewritten one too). True when it had it. */
  disconnect(pool: string, clientId: string, request: ServerDisconnect): Promise<boolean> {
    return this.hostOf(clientId).control.disconnect(pool, clientId, request);
  }

  /** Every host tells its clients goodbye (or where to go) and stops; each is waited for HOST_SHUTDOWN_TIMEOUT_MS at most. No restart after this. */
  async shutdown(redirect: ServerRedirect | undefined): Promise<void> {
    this.closing = true;
    const settled = (): undefined => undefined;
    await Promise.all(this.hosts.map((h) => withTimeout(h.control.shutdown(redirect), HOST_SHUTDOWN_TIMEOUT_MS, settled, settled)));
  }

  /** Stops the worker threads (nothing with inline hosts). */
  close(): Promise<void> {
    return this.launcher.close();
  }

  private start(index: number): void {
    const handle = this.launcher.start(index);
    this.hosts[index] = handle;
    this.up[index] = false;
    this.lifecycle.started(index, handle.endpoint);
    handle.control.ready().then(
      () => {
        if (this.hosts[index] === handle) this.up[index] = true;
      },
      () => undefined, // a loading failure is ready()'s to report
    );
    handle.exited.then(
      () => undefined,
      (err: unknown) => this.onFailed(index, handle, err),
    );
  }

  private onFailed(index: number, handle: HostHandle, err: unknown): void {
    if (this.hosts[index] === handle) this.up[index] = false;
    if (this.closing || this.hosts[index] !== handle) return;
    this.log.error({ err, host: index }, 'actor host failed; restarting it and disconnecting its clients');
    handle.endpoint.close();
    this.start(index);
    this.lifecycle.failed(index, err);
  }
}
