/**
 * The topic router: one Shard per actor host, the shared subscription groups
 * (whose members span hosts), and one retained store per pool. It turns a
 * routed message into at most one deliver frame per host, and answers a new
 * non-shared subscription with the matching retained messages.
 * Main thread; synchronous, never awaits.
 */
import type { AppMessage } from '../../shared/message/app-message.js';
import type { SharedSubscriptionStrategy } from '../../api/config.js';
import type { DeliveryTarget, SubscribeRequest } from '../../shared/channel/frames.js';
import { RetainedStore } from './retained-store.js';
import { Shard } from './shard.js';
import { SharedGroups } from './shared-groups.js';
import { parseSharedFilter } from '../../shared/topic/topic.js';

/** Hands one message and its targets to the host that owns shard `host`. */
export type DeliverySink = (host: number, message: AppMessage, targets: DeliveryTarget[]) => void;

export interface RouterStats {
  routed: number;
  delivered: number;
  subscriptions: number;
  retained: number;
  retainedBytes: number;
}

export class Router {
  private readonly shards: Shard[];
  private readonly shared: SharedGroups;
  private readonly retained = new Map<string, RetainedStore>();
  private routed = 0;
  private delivered = 0;

  constructor(
    hostCount: number,
    private readonly sink: DeliverySink,
    private readonly maxRetainedMemory: number,
    sharedStrategy: SharedSubscriptionStrategy = 'round-robin',
  ) {
    this.shards = Array.from({ length: hostCount }, () => new Shard());
    this.shared = new SharedGroups(sharedStrategy);
  }

  /** Routes a message published by session `sid` of host `fromHost` (-1: the embedding application). */
  route(pool: string, message: AppMessage, fromHost: number, sid: number, now?: number): void {
    this.routed++;
    if (message.retain) this.retainedStore(pool).set(ownedMessage(message), now ?? Date.now());
    const shared = this.shared.size > 0 ? this.shared.match(pool, message, this.shards.length) : undefined;
    for (let host = 0; host < this.shards.length; host++) {
      let targets = (this.shards[host] as Shard).match(pool, message.topic, message.qos, message.retain, host === fromHost ? sid : -1);
      const picked = shared?.[host];
      if (picked) targets = targets ? targets.concat(picked) : picked;
      if (targets) {
        this.delivered += targets.length;
        this.sink(host, message, targets);
      }
    }
  }

  /** A `$share/` filter joins its group, and gets no retained messages (they go to new Non-shared Subscriptions only, 3.3.1.3). */
  subscribe(host: number, req: SubscribeRequest, now = Date.now()): void {
    const shared = parseSharedFilter(req.filter);
    if (shared) {
      this.shared.subscribe(host, req, shared.filter);
      return;
    }
    this.shard(host).subscribe(req);
    if (!req.sendRetained) return;
    this.retained.get(req.pool)?.match(req.filter, now, (message) => {
      const qos = message.qos < req.qos ? message.qos : req.qos;
      this.sink(host, message, [{ sid: req.sid, qos, retain: true, subscriptionIds: req.subscriptionId ? [req.subscriptionId] : [], stored: true }]);
    });
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

  stats(): RouterStats {
    let retained = 0, retainedBytes = 0;
    for (const store of this.retained.values()) {
      retained += store.size;
      retainedBytes += store.memoryBytes;
    }
    const subscriptions = this.shards.reduce((n, s) => n + s.subscriptionCount, this.shared.size);
    return { routed: this.routed, delivered: this.delivered, subscriptions, retained, retainedBytes };
  }

  private shard(host: number): Shard {
    const shard = this.shards[host];
    if (!shard) throw new RangeError(`no router shard for host ${host}`);
    return shard;
  }

  private retainedStore(pool: string): RetainedStore {
    let store = this.retained.get(pool);
    if (!store) {
      store = new RetainedStore({ maxMemoryBytes: this.maxRetainedMemory });
      this.retained.set(pool, store);
    }
    return store;
  }
}

/** A copy whose payload owns its memory, so the store never pins a received batch. */
function ownedMessage(message: AppMessage): AppMessage {
  const payload = Buffer.allocUnsafe(message.payload.length);
  message.payload.copy(payload);
  return { ...message, payload };
}
