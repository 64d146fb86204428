/**
 * One router shard: the subscriptions of the sessions that live in one actor
 * host, per pool, in a topic trie keyed by session id. A PUBLISH is matched
 * against every shard, and each shard's matches become one deliver frame for
 * its host. Main thread; never awaits.
 */
import type { QoS } from '../../shared/message/app-message.js';
import type { DeliveryTarget, SubscribeRequest } from '../../shared/channel/frames.js';
import { TopicTrie } from '../../shared/topic/topic-trie.js';
import type { Interest } from './interest.js';

export interface Subscription {
  readonly pool: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  subscriptionId: number;
}

export class Shard {
  private readonly pools = new Map<string, TopicTrie<Subscription>>();
  /** Session id → its subscriptions, by `pool\0filter`. */
  private readonly filtersBySession = new Map<number, Map<string, Subscription>>();
  /** Reused per match: session id → its one delivery for the message being routed. */
  private readonly collected = new Map<number, DeliveryTarget>();

  /** `interest` hears of every subscription added and removed. */
  constructor(private readonly interest: Interest) {}

  /**
   * Adds the session's subscription to `req.filter`, or replaces it. A
   * SUBSCRIBE that sends no retained messages updates the existing
   * subscription in place, so a retained lookup an earlier SUBSCRIBE started
   * still holds (Router.subscribe); one that sends them starts anew. Returns
   * the subscription.
   */
  subscribe(req: SubscribeRequest): Subscription {
    let filters = this.filtersBySession.get(req.sid);
    if (!filters) {
      filters = new Map();
      this.filtersBySession.set(req.sid, filters);
    }
    const key = `${req.pool}\0${req.filter}`;
    const current = filters.get(key);
    if (current !== undefined && !req.sendRetained) {
      current.qos = req.qos;
      current.noLocal = req.noLocal;
      current.retainAsPublished = req.retainAsPublished;
      current.subscriptionId = req.subscriptionId;
      return current;
    }
    let trie = this.pools.get(req.pool);
    if (!trie) {
      trie = new TopicTrie<Subscription>();
      this.pools.set(req.pool, trie);
    }
    const subscription: Subscription = {
      pool: req.pool,
      qos: req.qos,
      noLocal: req.noLocal,
      retainAsPublished: req.retainAsPublished,
      subscriptionId: req.subscriptionId,
    };
    if (trie.add(req.filter, req.sid, subscription)) this.interest.added(req.pool, req.filter);
    filters.set(key, subscription);
    return subscription;
  }

  /** Whether `subscription` (as subscribe returned it) is still the session's subscription to `filter`. */
  holds(pool: string, sid: number, filter: string, subscription: Subscription): boolean {
    return this.filtersBySession.get(sid)?.get(`${pool}\0${filter}`) === subscription;
  }

  unsubscribe(pool: string, sid: number, filter: string): void {
    if (this.pools.get(pool)?.remove(filter, sid)) this.interest.removed(pool, filter);
    this.filtersBySession.get(sid)?.delete(`${pool}\0${filter}`);
  }

  /** Removes every subscription of a session. */
  drop(sid: number): void {
    const filters = this.filtersBySession.get(sid);
    if (!filters) return;
    for (const [key, { pool }] of filters) {
      const filter = key.slice(pool.length + 1);
      if (this.pools.get(pool)?.remove(filter, sid)) this.interest.removed(pool, filter);
    }
    this.filtersBySession.delete(sid);
  }

  clear(): void {
    for (const filters of this.filtersBySession.values()) {
      for (const [key, { pool }] of filters) this.interest.removed(pool, key.slice(pool.length + 1));
    }
    this.pools.clear();
    this.filtersBySession.clear();
  }

  get subscriptionCount(): number {
    let n = 0;
    for (const trie of this.pools.values()) n += trie.size;
    return n;
  }

  /**
   * Matches a topic and returns one target per session: the highest granted
   * QoS of its overlapping subscriptions and all their identifiers.
   * `skipSid` is the publishing session in this shard (No Local), or -1.
   */
  match(pool: string, topic: string, messageQos: QoS, messageRetain: boolean, skipSid: number): DeliveryTarget[] | undefined {
    const trie = this.pools.get(pool);
    if (!trie) return undefined;
    const collected = this.collected;
    trie.match(topic, (sid, sub) => {
      if (sub.noLocal && sid === skipSid) return;
      const qos = (sub.qos < messageQos ? sub.qos : messageQos) as QoS;
      const retain = sub.retainAsPublished && messageRetain;
      const seen = collected.get(sid);
      if (!seen) {
        collected.set(sid, { sid, qos, retain, subscriptionIds: sub.subscriptionId ? [sub.subscriptionId] : [] });
        return;
      }
      if (qos > seen.qos) seen.qos = qos;
      if (retain) seen.retain = true;
      if (sub.subscriptionId) seen.subscriptionIds.push(sub.subscriptionId);
    });
    if (collected.size === 0) return undefined;
    const targets = Array.from(collected.values());
    collected.clear();
    return targets;
  }
}
