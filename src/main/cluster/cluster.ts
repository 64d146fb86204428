/**
 * This node's membership of a cluster on NATS (config `cluster`): the link,
 * the routes (interest, forwarding, other nodes' messages), the retained
 * messages shared through their bucket, the cluster-wide ownership of
 * sessions, and the figures `/metrics` and `stats()` show. It is the
 * broker's RouterBridge, balancing shared subscriptions over every node.
 * Main thread.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { RouterBridge } from '../../api/bridge.js';
import type { ClusterConfig } from '../../api/config.js';
import type { AppMessage } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import { ClusterRetained, type RetainedTarget } from './cluster-retained.js';
import { ClusterRoutes, type RoutesTarget, type RouteStats } from './cluster-routes.js';
import { isSysTopic } from '../../shared/topic/topic.js';
import { NatsLink } from './nats-link.js';
import { SessionOwnership, type OwnershipStats, type SessionHosts } from './session-ownership.js';
import { ClusterSubjects } from './subjects.js';

/** What the node's cluster membership needs from the broker. */
export type ClusterBroker = RoutesTarget & RetainedTarget;

/** The cluster figures of this node since it joined. */
export interface ClusterStats extends RouteStats, OwnershipStats {
  nodeId: string;
  /** Both connections to NATS are up. */
  linked: boolean;
  /** Times the link went down. */
  linkLosses: number;
  /** Retained messages that could not be stored in the bucket. */
  retainedFailed: number;
}

export class Cluster implements RouterBridge {
  private constructor(
    private readonly config: ClusterConfig,
    private readonly link: NatsLink,
    private readonly routes: ClusterRoutes,
    private readonly retained: ClusterRetained,
    private readonly ownership: SessionOwnership,
  ) {}

  /** Connects to NATS, opens the buckets and reads the retained messages; rejects with one clear line when NATS cannot be reached. */
  static async join(config: ClusterConfig, broker: ClusterBroker, hosts: SessionHosts, log: Logger): Promise<Cluster> {
    const clusterLog = log.child({ cluster: config.nodeId });
    let cluster: Cluster | undefined;
    const link = await NatsLink.open(config, clusterLog, (linked) => {
      if (linked) cluster?.retained.retry();
    });
    let retained: ClusterRetained | undefined;
    let ownership: SessionOwnership | undefined;
    try {
      const subjects = new ClusterSubjects(config.subjectPrefix);
      const [retainedBucket, sessionsBucket] = await openBuckets(config, link);
      const routes = new ClusterRoutes(config.nodeId, link, subjects, broker, clusterLog);
      retained = new ClusterRetained(retainedBucket, broker, clusterLog);
      ownership = new SessionOwnership(config, sessionsBucket, link, subjects, hosts, clusterLog);
      await retained.start();
      await ownership.start();
      cluster = new Cluster(config, link, routes, retained, ownership);
      clusterLog.info({ servers: config.servers }, 'joined the cluster');
      ownership
        .reconcile()
        .catch((err: unknown) => clusterLog.warn({ err }, 'cluster: checking the stored sessions against the bucket failed'));
      return cluster;
    } catch (err) {
      retained?.close();
      ownership?.close();
      await link.close();
      throw err;
    }
  }

  /** Shared groups are balanced over the nodes through NATS while the link is up; while it is down, the local router serves them. */
  get routesShared(): boolean {
    return this.link.linked;
  }

  /** A message routed here goes to the nodes with interest, and into the retained bucket when retained; `$SYS` figures describe this node and stay here. */
  onRouted(pool: string, message: AppMessage): void {
    if (isSysTopic(message.topic)) return;
    this.routes.forward(pool, message);
    if (message.retain) this.retained.put(pool, message);
  }

  onFilterAdded(pool: string, filter: string, group: string | undefined): void {
    this.routes.added(pool, filter, group);
  }

  onFilterRemoved(pool: string, filter: string, group: string | undefined): void {
    this.routes.removed(pool, filter, group);
  }

  /** The ownership of sessions, as the data plane asks it (claims of CONNECTs, releases of ended sessions). */
  get sessions(): SessionOwnership {
    return this.ownership;
  }

  ready(): boolean {
    return this.link.linked;
  }

  stats(): ClusterStats {
    return {
      nodeId: this.config.nodeId,
      linked: this.link.linked,
      linkLosses: this.link.lossCount,
      retainedFailed: this.retained.failed,
      ...this.routes.counts(),
      ...this.ownership.stats(),
    };
  }

  /** Leaves the cluster: what is buffered for NATS is sent, then the connections close. */
  async leave(): Promise<void> {
    this.retained.close();
    this.ownership.close();
    await this.link.close();
  }
}

/** The retained and sessions buckets, made on first use; one clear line when JetStream does not answer. */
async function openBuckets(config: ClusterConfig, link: NatsLink): Promise<[KV, KV]> {
  const kvm = new Kvm(link.routes);
  const options = { history: 1, replicas: config.bucketReplicas };
  try {
    return [await kvm.create(`${config.subjectPrefix}-retained`, options), await kvm.create(`${config.subjectPrefix}-sessions`, options)];
  } catch (err) {
    throw new Error(`cluster: the key-value buckets could not be opened (is JetStream on? nats-server -js): ${(err as Error).message}`, {
      cause: err,
    });
  }
}
