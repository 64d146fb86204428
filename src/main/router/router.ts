/**
 * The topic router: one Shard per actor host, the shared subscription groups
 * (whose members span hosts), the embedding application's subscriptions,
 * the retained store (a RetainedStore, given), and the local interest per
 * pool. It turns a routed message into at most one deliver frame per host
 * (and a call of each matching application handler), answers a new
 * non-shared subscription with the matching retained messages, and tells an
 * attached RouterBridge of the messages that originated here and of the
 * interest changes.
 * Main thread; synchronous, never awaits: a store that answers with a promise
 * is followed up when it settles.
 */
import type { AppMessage, QoS } from '../../shared/message/app-message.js';
import type { SharedSubscriptionStrategy } from '../../api/config.js';
import type { RetainedStore } from '../../api/retained-store.js';
import type { RouterBridge } from '../../api/bridge.js';
import type { DeliveryTarget, SubscribeRequest } from '../../shared/channel/frames.js';
import { isPromise } from '../../shared/async.js';
import type { Logger } from '../../shared/log.js';
import { AppSubscribers, type MessageHandler } from './app-subscribers.js';
import { Interest } from './interest.js';
import { Shard } from './shard.js';
import { SharedGroups } from './shared-groups.js';
import { isValidTopicName, parseSharedFilter } from '../../shared/topic/topic.js';
import { ownedCopy } from '../../shared/message/owned.js';

/** How a message from another node is routed here. */
export interface BridgeRouteOptions {
  /**
   * For one shared subscription group only (`$share/{group}/{filter}`, the
   * bridge picked this node for it): one member here gets the message when
   * the group's filter matches its topic; no other subscriber does.
   */
  share?: string;
  /** Whether a retained message is also stored here (default true); false when the bridge replicates retained messages itself. */
  storeRetained?: boolean;
}

/** Hands one message and its targets to the host that owns shard `host`. */
export type DeliverySink = (host: number, message: AppMessage, targets: DeliveryTarget[]) => void;

export interface RouterStats {
  routed: number;
  /** Messages routed, by their QoS (index 0, 1, 2). */
  routedByQos: [number, number, number];
  delivered: number;
  subscriptions: number;
  retained: number;
  retainedBytes: number;
}

export class Router {
  private readonly shards: Shard[];
  private readonly shared: SharedGroups;
  private readonly interest: Interest;
  private readonly app: AppSubscribers;
  private bridge: RouterBridge | undefined;
  private routed = 0;
  private readonly routedByQos: [number, number, number] = [0, 0, 0];
  private delivered = 0;
  /** A sweep of the retained store that answered with a promise is still running. */
  private sweeping = false;

  constructor(
    hostCount: number,
    private readonly sink: DeliverySink,
    private readonly retained: RetainedStore,
    private readonly log: Logger,
    sharedStrategy: SharedSubscriptionStrategy = 'round-robin',
  ) {
    const interest = new Interest(log);
    this.interest = interest;
    this.shards = Array.from({ length: hostCount }, () => new Shard(interest));
    this.shared = new SharedGroups(sharedStrategy, interest);
    this.app = new AppSubscribers(interest, log);
  }

  /**
   * Routes a message published by session `sid` of host `fromHost` (-1: the
   * embedding application or the bridge); then hands one without an origin
   * to the bridge. Answers the retained store's promise for a retained
   * message whose write it answered later (settling once it is kept), else
   * undefined.
   */
  route(pool: string, message: AppMessage, fromHost: number, sid: number, now?: number): Promise<void> | undefined {
    return this.routeHere(pool, message, fromHost, sid, now, true);
  }

  /** route(), where `storeRetained` says whether a retained message is stored here. */
  private routeHere(
    pool: string,
    message: AppMessage,
    fromHost: number,
    sid: number,
    now: number | undefined,
    storeRetained: boolean,
  ): Promise<void> | undefined {
    this.routed++;
    this.routedByQos[message.qos]++;
    const stored = message.retain && storeRetained ? this.retain(pool, message, now ?? Date.now()) : undefined;
    const sharedHere = this.shared.size > 0 && this.bridge?.routesShared !== true;
    const shared = sharedHere ? this.shared.match(pool, message, this.shards.length) : undefined;
    for (let host = 0; host < this.shards.length; host++) {
      let targets = this.shards[host]!.match(pool, message.topic, message.qos, message.retain, host === fromHost ? sid : -1);
      const picked = shared?.[host];
      if (picked) targets = targets ? targets.concat(picked) : picked;
      if (targets) {
        this.delivered += targets.length;
        this.sink(host, message, targets);
      }
    }
    if (this.app.size > 0) this.app.deliver(pool, message);
    const bridge = this.bridge;
    if (bridge !== undefined && message.origin === undefined) this.forward(bridge, pool, message);
    return stored;
  }

  /**
   * A message from another node, `origin`, for the local subscribers of
   * `pool` (a retained one is stored as well); never handed back to the bridge.
   */
  routeFromBridge(pool: string, message: AppMessage, origin: string, options: BridgeRouteOptions = {}): void {
    if (!isValidTopicName(message.topic)) throw new TypeError(`routeFromBridge: invalid topic name: ${message.topic}`);
    if (typeof origin !== 'string') throw new TypeError('routeFromBridge: origin must be a string');
    const { share, storeRetained = true } = options;
    if (share === undefined) {
      void this.routeHere(pool, { ...message, origin }, -1, 0, undefined, storeRetained);
      return;
    }
    const picked = this.shared.pickFor(pool, share, message);
    if (!picked) return;
    this.delivered++;
    this.sink(picked.host, { ...message, origin }, [picked.target]);
  }

  /** Stores a retained message another node published (an empty payload clears the topic's), without delivering it. */
  retainFromBridge(pool: string, message: AppMessage): void {
    if (!isValidTopicName(message.topic)) throw new TypeError(`retainFromBridge: invalid topic name: ${message.topic}`);
    void this.retain(pool, message, Date.now());
  }

  /** Attaches the bridge, which first hears of every filter subscribed so far; one bridge per router. */
  attachBridge(bridge: RouterBridge): void {
    if (this.bridge !== undefined) throw new Error('attachBridge: a bridge is already attached');
    this.bridge = bridge;
    this.interest.attach(bridge);
  }

  /**
   * A `$share/` filter joins its group, and gets no retained messages (they go
   * to new Non-shared Subscriptions only, 3.3.1.3). A retained message the
   * store visits after `match` returned (it answered with a promise) goes out
   * only while this very subscription stands: not after an unsubscribe, the
   * end of the session, the loss of its host, or a later SUBSCRIBE to the
   * same filter (which makes its own lookup).
   */
  subscribe(host: number, req: SubscribeRequest, now = Date.now()): void {
    const shared = parseSharedFilter(req.filter);
    if (shared) {
      this.shared.subscribe(host, req, shared.filter);
      return;
    }
    const shard = this.shard(host);
    const subscription = shard.subscribe(req);
    if (!req.sendRetained) return;
    let answering = true;
    const done = this.retained.match(req.pool, req.filter, now, (message) => {
      if (!answering && !shard.holds(req.pool, req.sid, req.filter, subscription)) return;
      const qos = message.qos < subscription.qos ? message.qos : subscription.qos;
      const subscriptionIds = subscription.subscriptionId ? [subscription.subscriptionId] : [];
      this.sink(host, message, [{ sid: req.sid, qos, retain: true, subscriptionIds, stored: true }]);
    });
    answering = false;
    if (isPromise(done)) done.catch((err: unknown) => this.storeFailed(err, { operation: 'match', pool: req.pool, filter: req.filter }));
  }

  /**
   * The embedding application's `handler` subscribes to `filter` (not
   * `$share/`) in `pool`; with `sendRetained` it gets the matching retained
   * messages first, as long as this subscription stands (see subscribe).
   */
  subscribeApp(pool: string, filter: string, handler: MessageHandler, qos: QoS, sendRetained: boolean, now = Date.now()): void {
    this.app.add(pool, filter, handler, qos);
    if (!sendRetained) return;
    let answering = true;
    const done = this.retained.match(pool, filter, now, (message) => {
      if (answering || this.app.holds(pool, filter, handler)) this.app.deliverRetained(pool, handler, message, qos);
    });
    answering = false;
    if (isPromise(done)) done.catch((err: unknown) => this.storeFailed(err, { operation: 'match', pool, filter }));
  }

  /** Ends the application's subscription of `handler` to `filter` in `pool`; false when there was none. */
  unsubscribeApp(pool: string, filter: string, handler: MessageHandler): boolean {
    return this.app.remove(pool, filter, handler);
  }

  unsubscribe(host: number, pool: string, sid: number, filter: string): void {
    if (parseSharedFilter(filter)) this.shared.unsubscribe(host, pool, sid, filter);
    else this.shard(host).unsubscribe(pool, sid, filter);
  }

  drop(host: number, sid: number): void {
    this.shard(host).drop(sid);
    this.shared.drop(host, sid);
  }

  /** Forgets every subscription of a host (its worker died). */
  clearHost(host: number): void {
    this.shard(host).clear();
    this.shared.clearHost(host);
  }

  /** A message session `sid` of `host` got for shared subscription `share` and gives back: another member gets it. */
  redispatch(host: number, pool: string, sid: number, share: string, message: AppMessage): void {
    const picked = this.shared.redispatch(host, pool, sid, share, message);
    if (!picked) return;
    this.delivered++;
    this.sink(picked.host, message, [picked.target]);
  }

  /** Session `sid` of `host` got or lost its transport. */
  presence(host: number, sid: number, online: boolean): void {
    this.shared.setOnline(host, sid, online);
  }

  /** Removes the expired retained messages from the store; not again while a sweep that answered with a promise runs. */
  sweepRetained(now: number): void {
    if (this.sweeping) return;
    const done = this.retained.sweepExpired(now);
    if (!isPromise(done)) return;
    this.sweeping = true;
    done.then(
      () => {
        this.sweeping = false;
      },
      (err: unknown) => {
        this.sweeping = false;
        this.storeFailed(err, { operation: 'sweepExpired' });
      },
    );
  }

  /** The attached bridge says it is linked (true without a bridge, or one that does not say). */
  bridgeReady(): boolean {
    return this.bridge?.ready?.() ?? true;
  }

  stats(): RouterStats {
    const { count, bytes } = this.retained.stats();
    const subscriptions = this.shards.reduce((n, s) => n + s.subscriptionCount, this.shared.size);
    const routedByQos: [number, number, number] = [...this.routedByQos];
    return { routed: this.routed, routedByQos, delivered: this.delivered, subscriptions, retained: count, retainedBytes: bytes };
  }

  private shard(host: number): Shard {
    const shard = this.shards[host];
    if (!shard) throw new RangeError(`no router shard for host ${host}`);
    return shard;
  }

  /** Stores a retained message, or deletes the topic's one for an empty payload [MQTT-3.3.1-10]; the store's promise, if it gave one. */
  private retain(pool: string, message: AppMessage, now: number): Promise<void> | undefined {
    const clear = message.payload.length === 0;
    const done = clear ? this.retained.delete(pool, message.topic) : this.retained.set(pool, ownedCopy(message), now);
    if (!isPromise(done)) return undefined;
    done.catch((err: unknown) => this.storeFailed(err, { operation: clear ? 'delete' : 'set', pool, topic: message.topic }));
    return done;
  }

  private forward(bridge: RouterBridge, pool: string, message: AppMessage): void {
    try {
      bridge.onRouted(pool, message);
    } catch (err) {
      this.log.error({ err, pool, topic: message.topic }, 'router bridge failed on a routed message');
    }
  }

  /** A store's promise rejected: logged, and routing goes on. */
  private storeFailed(err: unknown, context: Record<string, string>): void {
    this.log.error({ err, ...context }, 'retained store failed');
  }
}
