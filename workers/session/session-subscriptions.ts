/**
 * A session's subscriptions: its own copy (filter → options) and the
 * router's, kept in step through the router link. A new subscription asks
 * for the retained messages as its Retain Handling says; `$SYS/...` filters
 * route in the default pool. Lives inside a session actor; runs wherever the
 * actor host runs.
 */
import { LazyMap } from '../../src/shared/lazy-map.js';
import { parseSharedFilter, SHARE_PREFIX } from '../../src/shared/topic/topic.js';
import type { RouterLink } from '../router-link.js';
import { routingPool } from '../runtime/pools.js';
import type { SubscriptionOptions } from './session-context.js';
import type { SubscriptionRecord } from './session-store.js';

export class SessionSubscriptions {
  private readonly byFilter = new LazyMap<string, SubscriptionOptions>();

  constructor(
    private readonly link: RouterLink,
    private readonly sid: number,
    private readonly pool: string,
  ) {}

  get size(): number {
    return this.byFilter.size;
  }

  /** The options of each filter, for the QoS a delivery gets (upgrade_qos). */
  get options(): ReadonlyMap<string, SubscriptionOptions> {
    return this.byFilter;
  }

  /**
   * Keeps `options` for `filter` and asks the router for it; retained
   * messages come with it unless it is shared or its Retain Handling says
   * otherwise (1: only for a new subscription) [MQTT-3.3.1-9] [MQTT-3.3.1-10].
   */
  subscribe(filter: string, options: SubscriptionOptions): void {
    const { retainHandling } = options;
    const isNew = !this.byFilter.has(filter);
    this.keep(filter, options, parseSharedFilter(filter) === undefined && (retainHandling === 0 || (retainHandling === 1 && isNew)));
  }

  /** Removes `filter`, here and in the router; false when there was no such subscription. */
  unsubscribe(filter: string): boolean {
    if (!this.byFilter.delete(filter)) return false;
    this.link.unsubscribe(routingPool(this.pool, filter), this.sid, filter);
    return true;
  }

  /** Every subscription goes, here and in the router. */
  dropAll(): void {
    this.link.drop(this.sid);
    this.byFilter.clear();
  }

  /** Whether one of them is a `$share/` group membership. */
  hasShared(): boolean {
    for (const filter of this.byFilter.keys()) if (filter.startsWith(SHARE_PREFIX)) return true;
    return false;
  }

  /** As a store keeps them. */
  toRecords(): SubscriptionRecord[] {
    return Array.from(this.byFilter, ([filter, options]) => ({ filter, ...options }));
  }

  /** Takes back stored subscriptions: the router gets them again, without retained messages. */
  restore(records: readonly SubscriptionRecord[]): void {
    for (const { filter, ...options } of records) this.keep(filter, options, false);
  }

  private keep(filter: string, options: SubscriptionOptions, sendRetained: boolean): void {
    this.byFilter.set(filter, options);
    const { qos, noLocal, retainAsPublished, subscriptionId } = options;
    this.link.subscribe({
      pool: routingPool(this.pool, filter),
      sid: this.sid,
      filter,
      qos,
      noLocal,
      retainAsPublished,
      subscriptionId,
      sendRetained,
    });
  }
}
