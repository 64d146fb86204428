/**
 * The cluster's routes: this node's interest as NATS subscriptions (one per
 * subject, counted over the filters that need it; a shared group as a queue
 * subscription, so NATS picks one node per message among the group's), this
 * node's routed messages published on their topic's subject, and the
 * messages of the other nodes handed to the local router. A message that
 * matches several subscriptions of this node arrives once per
 * subscription, back to back: the copies after the first (same origin run,
 * whose random id tells the runs of every node apart, and a number not
 * above the last) are skipped. Main thread.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { AppMessage } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import type { BridgeRouteOptions } from '../router/router.js';
import type { NatsLink } from './nats-link.js';
import type { ClusterSubjects } from './subjects.js';
import { packRouted, unpackRouted } from './wire.js';

/** Where the routes hand the other nodes' messages. */
export interface RoutesTarget {
  routeFromBridge(pool: string, message: AppMessage, origin: string, options: BridgeRouteOptions): void;
}

/** What the routes counted since the node joined. */
export interface RouteStats {
  /** Messages this node published for the others, and their bytes on the link. */
  forwarded: number;
  forwardedBytes: number;
  /** Messages of the other nodes handed to the local router, and their bytes. */
  received: number;
  receivedBytes: number;
  /** Messages not published: larger than the server's max_payload, or routed while the link was down. */
  dropped: number;
  /** NATS subscriptions held for this node's interest. */
  subscriptions: number;
}

interface Held {
  readonly subscription: Subscription;
  count: number;
}

export class ClusterRoutes {
  /** This start of the node: 48 random bits, told apart from its earlier starts (whose sequence began at 1 too). */
  private readonly run = randomBytes(6).toString('base64url');
  private seq = 0;
  /** Plain interest: subject → its subscription and the filters needing it. */
  private readonly plain = new Map<string, Held>();
  /** Shared groups: `queue\0subject` → its queue subscription and the groups needing it. */
  private readonly queued = new Map<string, Held>();
  /** The last number seen of each origin run, by run id. */
  private readonly lastSeen = new Map<string, number>();
  private readonly stats: Omit<RouteStats, 'subscriptions'> = {
    forwarded: 0,
    forwardedBytes: 0,
    received: 0,
    receivedBytes: 0,
    dropped: 0,
  };

  constructor(
    private readonly nodeId: string,
    private readonly link: NatsLink,
    private readonly subjects: ClusterSubjects,
    private readonly target: RoutesTarget,
    private readonly log: Logger,
  ) {
    this.subscribe(this.plain, subjects.allLongTopics(), undefined, undefined);
  }

  /**
   * Publishes a message routed here in `pool` for the nodes with interest in
   * its topic. While the link is down it is dropped and counted: the NATS
   * client discards what it buffered when it connects again.
   */
  forward(pool: string, message: AppMessage): void {
    if (!this.link.linked) {
      this.stats.dropped++;
      return;
    }
    const bytes = packRouted(pool, message, { node: this.nodeId, run: this.run, seq: ++this.seq });
    try {
      this.link.routes.publish(this.subjects.topic(pool, message.topic), bytes);
    } catch (err) {
      this.stats.dropped++;
      this.log.warn({ err, pool, topic: message.topic, bytes: bytes.length }, 'cluster: a message could not be forwarded');
      return;
    }
    this.stats.forwarded++;
    this.stats.forwardedBytes += bytes.length;
  }

  /** `filter` of `pool` got its first local subscriber (of `group`, when shared). */
  added(pool: string, filter: string, group: string | undefined): void {
    if (group === undefined) {
      for (const subject of this.subjects.filter(pool, filter)) this.subscribe(this.plain, subject, undefined, undefined);
      return;
    }
    const share = `$share/${group}/${filter}`;
    const queue = this.subjects.queue(pool, share);
    for (const subject of [...this.subjects.filter(pool, filter), this.subjects.longTopics(pool)]) {
      this.subscribe(this.queued, subject, queue, share);
    }
  }

  /** The last local subscriber of `filter` of `pool` (of `group`, when shared) went. */
  removed(pool: string, filter: string, group: string | undefined): void {
    if (group === undefined) {
      for (const subject of this.subjects.filter(pool, filter)) this.unsubscribe(this.plain, subject);
      return;
    }
    const queue = this.subjects.queue(pool, `$share/${group}/${filter}`);
    for (const subject of [...this.subjects.filter(pool, filter), this.subjects.longTopics(pool)]) {
      this.unsubscribe(this.queued, `${queue}\0${subject}`);
    }
  }

  counts(): RouteStats {
    return { ...this.stats, subscriptions: this.plain.size + this.queued.size };
  }

  private subscribe(held: Map<string, Held>, subject: string, queue: string | undefined, share: string | undefined): void {
    const key = queue === undefined ? subject : `${queue}\0${subject}`;
    const existing = held.get(key);
    if (existing) {
      existing.count++;
      return;
    }
    const connection = queue === undefined ? this.link.routes : this.link.shares;
    const subscription = connection.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) this.log.warn({ err, subject }, 'cluster: a subscription failed');
        else this.receive(msg, share);
      },
    });
    held.set(key, { subscription, count: 1 });
  }

  private unsubscribe(held: Map<string, Held>, key: string): void {
    const existing = held.get(key);
    if (!existing) return;
    if (--existing.count > 0) return;
    held.delete(key);
    existing.subscription.unsubscribe();
  }

  private receive(msg: Msg, share: string | undefined): void {
    let routed;
    try {
      routed = unpackRouted(msg.data);
    } catch (err) {
      this.log.warn({ err, subject: msg.subject }, 'cluster: a message that does not decode was skipped');
      return;
    }
    const { pool, message, origin } = routed;
    if (share === undefined) {
      if (origin.seq <= (this.lastSeen.get(origin.run) ?? 0)) return;
      this.lastSeen.set(origin.run, origin.seq);
    }
    this.stats.received++;
    this.stats.receivedBytes += msg.data.length;
    try {
      this.target.routeFromBridge(pool, message, origin.node, { share, storeRetained: false });
    } catch (err) {
      this.log.warn({ err, pool, topic: message.topic }, 'cluster: a message of another node was not routed');
    }
  }
}
