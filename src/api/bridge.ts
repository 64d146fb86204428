/**
 * The router bridge seam, for a link between brokers (a cluster): the
 * router tells an attached RouterBridge of every message that originated on
 * this node once it was routed here, and of the local interest per pool (a
 * topic filter's first local subscriber, its last one leaving; a shared
 * subscription group counts as one subscriber of its filter). Messages from
 * the other nodes come in through Broker.routeFromBridge with their origin:
 * they reach local subscribers only and are never handed back to the bridge.
 * Types only; implemented and called on the main thread.
 *
 * Every method is called synchronously from the router, which never awaits:
 * a bridge does its I/O on its own time. A throw is logged and the router
 * goes on. The message and its payload belong to the router: the payload may
 * be a view into a batch reused after the call, so copy what outlives it.
 */
import type { AppMessage } from '../shared/message/app-message.js';

export interface RouterBridge {
  /**
   * A message published on this node (by a client, a will, or
   * Broker.publish) was routed in `pool` to the local subscribers; retained
   * ones were handed to the retained store first. Never called for a message
   * that came from the bridge (it carries an `origin`).
   */
  onRouted(pool: string, message: AppMessage): void;

  /**
   * `filter` got its first local subscription in `pool`; `group` is the
   * shared subscription group for `$share/{group}/{filter}`, else undefined.
   * When the bridge is attached, it is called for every filter already
   * subscribed.
   */
  onFilterAdded(pool: string, filter: string, group: string | undefined): void;

  /** The last local subscription to `filter` (of `group`, when shared) in `pool` went. */
  onFilterRemoved(pool: string, filter: string, group: string | undefined): void;

  /**
   * The bridge balances shared subscriptions over every node: while true,
   * the router leaves its shared groups out when it routes a message (this
   * node's or a bridge's without `share`), and the bridge hands each message
   * to the node it picks per group with Broker.routeFromBridge's `share`
   * option. Read at each routed message, so a bridge may give the groups
   * back to the router while its link is down.
   */
  readonly routesShared?: boolean;

  /** Whether the link to the other nodes is up; the broker's readiness (`/readyz`) includes it. Without it, the bridge counts as ready. */
  ready?(): boolean;
}
