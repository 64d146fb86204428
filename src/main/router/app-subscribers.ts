/**
 * The embedding application's own subscriptions (Broker.subscribe): its
 * handlers per pool in a topic trie, called with every routed message that
 * matches, as a client's session would get it but without a socket. Each
 * subscription counts as a local subscriber of its filter for an attached
 * RouterBridge, so a cluster forwards what the application listens to.
 * Owned by the router; main thread. A handler runs inside routing: it must
 * return quickly, and a throw is logged, never passed to the publisher.
 */
import type { AppMessage, MessageProperties, QoS } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import { ownedCopy } from '../../shared/message/owned.js';
import { TopicTrie } from '../../shared/topic/topic-trie.js';
import type { Interest } from './interest.js';

/** A message as the application's handler gets it. */
export interface ReceivedMessage {
  topic: string;
  /** A copy that outlives the call (shared by the handlers one message reaches). */
  payload: Buffer;
  /** The published QoS, capped by the subscription's. */
  qos: QoS;
  /** The RETAIN flag as published (Retain As Published), or true for a retained message sent at subscribe. */
  retain: boolean;
  /** 5.0 message properties, when it had any. */
  properties?: MessageProperties;
  /** The pool (mountpoint) it was routed in. */
  pool: string;
  /** The node it came from, for a message that came through the router bridge. */
  origin?: string;
}

export type MessageHandler = (message: ReceivedMessage) => void;

interface AppSubscription {
  readonly pool: string;
  readonly filter: string;
  readonly handler: MessageHandler;
  readonly qos: QoS;
}

export class AppSubscribers {
  private readonly pools = new Map<string, TopicTrie<AppSubscription>>();
  private readonly byId = new Map<number, AppSubscription>();
  private nextId = 1;
  /** Reused per message: each handler is called once, at the highest QoS of its matching subscriptions. */
  private readonly matched = new Map<MessageHandler, QoS>();

  constructor(
    private readonly interest: Interest,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Adds `handler` for `filter` (valid, not `$share/`) in `pool`; a handler already subscribed to it there gets the new QoS. */
  add(pool: string, filter: string, handler: MessageHandler, qos: QoS): void {
    const existing = this.find(pool, filter, handler);
    if (existing !== undefined) this.byId.delete(existing);
    const id = existing ?? this.nextId++;
    const subscription = { pool, filter, handler, qos };
    this.byId.set(id, subscription);
    let trie = this.pools.get(pool);
    if (trie === undefined) {
      trie = new TopicTrie();
      this.pools.set(pool, trie);
    }
    trie.add(filter, id, subscription);
    if (existing === undefined) this.interest.added(pool, filter);
  }

  /** Removes `handler`'s subscription to `filter` in `pool`; false when it had none. */
  remove(pool: string, filter: string, handler: MessageHandler): boolean {
    const id = this.find(pool, filter, handler);
    if (id === undefined) return false;
    this.byId.delete(id);
    const trie = this.pools.get(pool);
    trie?.remove(filter, id);
    if (trie?.size === 0) this.pools.delete(pool);
    this.interest.removed(pool, filter);
    return true;
  }

  /** Calls each handler with a subscription matching `message` in `pool` once. */
  deliver(pool: string, message: AppMessage): void {
    const trie = this.pools.get(pool);
    if (trie === undefined) return;
    const matched = this.matched;
    trie.match(message.topic, (_id, s) => {
      const qos = message.qos < s.qos ? message.qos : s.qos;
      if ((matched.get(s.handler) ?? -1) < qos) matched.set(s.handler, qos);
    });
    if (matched.size === 0) return;
    const owned = ownedCopy(message);
    for (const [handler, qos] of matched) this.call(handler, pool, owned, qos, message.retain);
    matched.clear();
  }

  /** Calls `handler` with one retained message found at subscribe. */
  deliverRetained(pool: string, handler: MessageHandler, message: AppMessage, qos: QoS): void {
    this.call(handler, pool, ownedCopy(message), message.qos < qos ? message.qos : qos, true);
  }

  /** Whether `handler` still holds its subscription to `filter` in `pool`. */
  holds(pool: string, filter: string, handler: MessageHandler): boolean {
    return this.find(pool, filter, handler) !== undefined;
  }

  private call(handler: MessageHandler, pool: string, message: AppMessage, qos: QoS, retain: boolean): void {
    const received: ReceivedMessage = { topic: message.topic, payload: message.payload, qos, retain, pool };
    if (message.properties !== undefined) received.properties = message.properties;
    if (message.origin !== undefined) received.origin = message.origin;
    try {
      handler(received);
    } catch (err) {
      this.log.error({ err, pool, topic: message.topic }, 'an application subscriber threw');
    }
  }

  private find(pool: string, filter: string, handler: MessageHandler): number | undefined {
    for (const [id, s] of this.byId) if (s.pool === pool && s.filter === filter && s.handler === handler) return id;
    return undefined;
  }
}
