/**
 * The local interest per pool: how many local subscriptions each topic
 * filter has (a shared subscription group counts once, under its
 * `$share/{group}/{filter}`), so that an attached RouterBridge hears of a
 * filter's first subscriber and of its last one leaving, and on attach of
 * every filter subscribed so far. Owned by the router, fed by the shards and
 * the shared groups; main thread, never awaits.
 */
import type { RouterBridge } from '../../api/bridge.js';
import type { Logger } from '../../shared/log.js';
import { parseSharedFilter } from '../../shared/topic/topic.js';

export class Interest {
  /** `pool\0filter` → local subscriptions. */
  private readonly counts = new Map<string, number>();
  private bridge: RouterBridge | undefined;

  constructor(private readonly log: Logger) {}

  /** One more local subscription to `filter` (as subscribed, `$share/` prefix included) in `pool`. */
  added(pool: string, filter: string): void {
    const key = `${pool}\0${filter}`;
    const count = this.counts.get(key) ?? 0;
    this.counts.set(key, count + 1);
    if (count === 0 && this.bridge !== undefined) this.tell(this.bridge, pool, filter, true);
  }

  /** One local subscription to `filter` in `pool` less. */
  removed(pool: string, filter: string): void {
    const key = `${pool}\0${filter}`;
    const count = this.counts.get(key);
    if (count === undefined) return;
    if (count > 1) {
      this.counts.set(key, count - 1);
      return;
    }
    this.counts.delete(key);
    if (this.bridge !== undefined) this.tell(this.bridge, pool, filter, false);
  }

  /** From now on `bridge` hears of changes; first of every filter subscribed so far. */
  attach(bridge: RouterBridge): void {
    this.bridge = bridge;
    for (const key of this.counts.keys()) {
      const at = key.indexOf('\0');
      this.tell(bridge, key.slice(0, at), key.slice(at + 1), true);
    }
  }

  private tell(bridge: RouterBridge, pool: string, filter: string, added: boolean): void {
    const shared = parseSharedFilter(filter);
    const topicFilter = shared ? shared.filter : filter;
    try {
      if (added) bridge.onFilterAdded(pool, topicFilter, shared?.group);
      else bridge.onFilterRemoved(pool, topicFilter, shared?.group);
    } catch (err) {
      this.log.error({ err, pool, filter, added }, 'router bridge failed on an interest change');
    }
  }
}
