/**
 * The shapes of what a broker reports about itself (`Broker.stats()`,
 * `Broker.topSessions()`, `Broker.readiness()`): one snapshot gathered on
 * the main thread, the hosts' parts over the control plane, that the `$SYS`
 * tree, the Prometheus metrics and the status page all read. Types only;
 * main thread.
 */
import type { HostStats, SessionSummary, TopSessionsBy } from '../shared/channel/host-control.js';
import type { BatchStats } from '../shared/channel/outbox.js';
import type { ThreadLoadStats } from '../shared/thread-load.js';
import type { ConnectionCount } from './connections.js';
import type { TrafficStats } from './net/traffic.js';
import type { RouterStats } from './router/router.js';
import type { ClusterStats } from './cluster/cluster.js';

export type { ClusterStats, ConnectionCount, HostStats, RouterStats, SessionSummary, ThreadLoadStats, TopSessionsBy, TrafficStats };

export interface BrokerStats {
  /** Seconds since the broker was made. */
  uptimeSeconds: number;
  /** Open client connections, and the same by transport and protocol level. */
  connections: number;
  connectionsBy: ConnectionCount[];
  router: RouterStats;
  hosts: HostStats[];
  /** QoS 0 PUBLISHes the main thread dropped (their client did not read fast enough, maxConnectionBufferBytes; or one grew over its Maximum Packet Size when a missed Topic Alias's topic was added back), closed connections included. */
  droppedQos0: number;
  /** Packets and bytes the client connections carried, by packet type; PUBLISHes sent by QoS; CONNACKs by result. */
  traffic: TrafficStats;
  /** The main thread's load (with `workers: 0`, also the hosts'). */
  thread: ThreadLoadStats;
  /** The batches the main thread sent to each host. */
  batchesToHosts: BatchStats[];
  /** This node's cluster figures, when it joined one (config `cluster`). */
  cluster: ClusterStats | undefined;
}

/** What `topSessions` ranks by (default 'queue') and how many it answers (default 10). */
export interface TopSessionsOptions {
  by?: TopSessionsBy;
  limit?: number;
}

/** What the monitoring parts (metrics, status page, health checks) ask of the broker. */
export interface BrokerWatch {
  stats(): Promise<BrokerStats>;
  readiness(): Promise<Readiness>;
  topSessions(options?: TopSessionsOptions): Promise<SessionSummary[]>;
}

/** Whether the broker can serve, part by part (`/readyz`). */
export interface Readiness {
  ready: boolean;
  /** Every listener the config enables is listening (false before listen() resolves and once closing). */
  listeners: boolean;
  /** Per host: it loaded and answered a control call within readinessTimeoutMs. */
  hosts: boolean[];
  /** The data directory opened, where one is configured. */
  store: boolean;
  /** The attached RouterBridge says it is linked, where one is attached. */
  bridge: boolean;
}
