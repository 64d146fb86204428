/**
 * The in-memory retained message store, the default RetainedStore
 * (src/api/retained-store.ts): per pool a RetainedTopics, at most one
 * retained AppMessage per topic name (spec section 3.3.1.3), each pool with
 * its own memory bound (maxRetainedMemory) and Message Expiry. It answers
 * every call at once. It is also the memory index of the durable store
 * (src/main/store/lmdb-retained-store.ts), which learns through `onRemoved`
 * of the messages dropped by expiry or eviction. Owned by the router; runs on the main thread.
 *
 * Four structures of a RetainedTopics share its entries:
 *  - a Map by topic;
 *  - a doubly linked list in insertion order, the eviction order (a replace
 *    unlinks and appends, so the oldest entry is always first). A Map's own
 *    order is not used: V8 leaves deleted slots at its front, so taking the
 *    first entry again and again degrades to a scan;
 *  - a tree of topic levels, walked by a subscription's filter levels, so an
 *    exact filter costs O(levels) and `#` is linear in what it matches;
 *  - a min-heap by expiry time of the entries that expire, with lazy deletion.
 */
import type { AppMessage } from '../../shared/message/app-message.js';
import type { RetainedStore, RetainedStoreStats } from '../../api/retained-store.js';
import { messageBytes } from '../../shared/message/message-bytes.js';
import { isDollarTopic } from '../../shared/topic/topic.js';

/**
 * Estimated bytes each entry costs beyond its topic, payload and properties:
 * the entry record, the AppMessage object, the Buffer object, a Map slot, the
 * heap slot and a share of the topic tree node. A rough figure; accounting is
 * an estimate, not a measurement.
 */
const ENTRY_OVERHEAD_BYTES = 200;
/** The heap is rebuilt without stale slots when it grows past twice its live size plus this. */
const HEAP_SLACK = 1024;

interface Entry {
  readonly msg: AppMessage;
  readonly bytes: number;
  readonly node: TopicNode;
  removed: boolean;
  older: Entry | undefined;
  newer: Entry | undefined;
}

class TopicNode {
  children: Map<string, TopicNode> | undefined = undefined;
  entry: Entry | undefined = undefined;
  constructor(
    readonly parent: TopicNode | undefined,
    readonly level: string,
  ) {}
}

/**
 * Why a store dropped a message of its own accord (not for a `set` that
 * replaced it nor a `delete`): its Message Expiry passed, or it was the
 * oldest when the pool went over maxMemoryBytes.
 */
export type RetainedRemoval = 'expired' | 'evicted';

export interface RetainedTopicsOptions {
  maxMemoryBytes: number;
  /** Told, synchronously, of every message the store drops of its own accord (a durable store deletes its copy). */
  onRemoved?: (message: AppMessage, why: RetainedRemoval) => void;
}

/** The retained messages of every pool, in memory. */
export class MemoryRetainedStore implements RetainedStore {
  private readonly maxMemoryBytes: number;
  private readonly onRemoved: ((pool: string, message: AppMessage, why: RetainedRemoval) => void) | undefined;
  private readonly pools = new Map<string, RetainedTopics>();

  /** `maxMemoryBytes` bounds each pool's messages on its own; `onRemoved` is told of each message dropped by expiry or eviction. */
  constructor(opts: { maxMemoryBytes: number; onRemoved?: (pool: string, message: AppMessage, why: RetainedRemoval) => void }) {
    this.maxMemoryBytes = opts.maxMemoryBytes;
    this.onRemoved = opts.onRemoved;
  }

  set(pool: string, message: AppMessage, now: number): void {
    let topics = this.pools.get(pool);
    if (topics === undefined) {
      const onRemoved = this.onRemoved;
      topics = new RetainedTopics({
        maxMemoryBytes: this.maxMemoryBytes,
        onRemoved: onRemoved && ((removed, why) => onRemoved(pool, removed, why)),
      });
      this.pools.set(pool, topics);
    }
    topics.set(message, now);
  }

  delete(pool: string, topic: string): void {
    this.pools.get(pool)?.delete(topic);
  }

  match(pool: string, filter: string, now: number, visit: (message: AppMessage) => void): void {
    this.pools.get(pool)?.match(filter, now, visit);
  }

  sweepExpired(now: number): number {
    let removed = 0;
    for (const topics of this.pools.values()) removed += topics.sweepExpired(now);
    return removed;
  }

  stats(): RetainedStoreStats {
    let count = 0,
      bytes = 0;
    for (const topics of this.pools.values()) {
      count += topics.size;
      bytes += topics.memoryBytes;
    }
    return { count, bytes };
  }
}

/** The retained messages of one pool. */
export class RetainedTopics {
  private readonly maxMemoryBytes: number;
  private readonly onRemoved: ((message: AppMessage, why: RetainedRemoval) => void) | undefined;
  private readonly byTopic = new Map<string, Entry>();
  private readonly root = new TopicNode(undefined, '');
  private oldest: Entry | undefined = undefined;
  private newest: Entry | undefined = undefined;
  /** Entries with an expiresAt, ordered by it; removed entries linger until popped or compacted. */
  private expiryHeap: Entry[] = [];
  private liveExpiring = 0;
  private heldBytes = 0;
  private evictionCount = 0;

  constructor(opts: RetainedTopicsOptions) {
    this.maxMemoryBytes = opts.maxMemoryBytes;
    this.onRemoved = opts.onRemoved;
  }

  /** The number of stored messages. */
  get size(): number {
    return this.byTopic.size;
  }

  /** The estimated bytes held by the stored messages. */
  get memoryBytes(): number {
    return this.heldBytes;
  }

  /** Live messages dropped to get back under maxMemoryBytes (expired ones dropped on the way are not counted). */
  get evictions(): number {
    return this.evictionCount;
  }

  /**
   * Stores `msg` as the retained message of its topic, replacing the previous one
   * [MQTT-3.3.1-5]. An empty payload only deletes the topic's retained message
   * [MQTT-3.3.1-10], [MQTT-3.3.1-11]; so does a message already expired at `now`.
   * The store keeps `msg` and its payload by reference: the caller hands over
   * ownership. A message larger than maxMemoryBytes on its own is evicted at once.
   */
  set(msg: AppMessage, now: number): void {
    const old = this.byTopic.get(msg.topic);
    if (old !== undefined) this.deleteEntry(old);
    if (msg.payload.length === 0 || (msg.expiresAt !== undefined && msg.expiresAt <= now)) {
      if (old !== undefined) this.prune(old.node);
      return;
    }
    const entry: Entry = {
      msg,
      bytes: estimateBytes(msg),
      node: old?.node ?? this.nodeFor(msg.topic),
      removed: false,
      older: this.newest,
      newer: undefined,
    };
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
    entry.node.entry = entry;
    this.byTopic.set(msg.topic, entry);
    this.heldBytes += entry.bytes;
    if (msg.expiresAt !== undefined) this.pushExpiring(entry);
    if (this.heldBytes > this.maxMemoryBytes) this.evict(now);
  }

  /** Deletes the retained message of `topic`, if any [MQTT-3.3.1-10]. */
  delete(topic: string): void {
    const entry = this.byTopic.get(topic);
    if (entry !== undefined) this.remove(entry);
  }

  /**
   * Calls `visit` for every stored message unexpired at `now` whose topic matches
   * the topic filter `filter` (valid, without a `$share/` prefix), with the same
   * wildcard rules as the subscription trie, including [MQTT-4.7.2-1].
   * `visit` must not modify the store.
   */
  match(filter: string, now: number, visit: (msg: AppMessage) => void): void {
    matchFrom(this.root, filter.split('/'), 0, now, visit);
  }

  /** Removes every message expired at `now`; returns how many. */
  sweepExpired(now: number): number {
    let removed = 0;
    for (;;) {
      const top = this.expiryHeap[0];
      if (top === undefined || top.msg.expiresAt! > now) return removed;
      this.popExpiring();
      if (!top.removed) {
        this.remove(top);
        removed++;
        this.onRemoved?.(top.msg, 'expired');
      }
    }
  }

  private evict(now: number): void {
    this.sweepExpired(now);
    while (this.heldBytes > this.maxMemoryBytes && this.oldest !== undefined) {
      const oldest = this.oldest;
      this.remove(oldest);
      this.evictionCount++;
      this.onRemoved?.(oldest.msg, 'evicted');
    }
  }

  /** Deletes `entry` from every structure and prunes the topic tree. */
  private remove(entry: Entry): void {
    this.deleteEntry(entry);
    this.prune(entry.node);
  }

  /** Deletes `entry` from the map, the list and the accounting; leaves its tree node in place. */
  private deleteEntry(entry: Entry): void {
    entry.removed = true;
    entry.node.entry = undefined;
    this.byTopic.delete(entry.msg.topic);
    if (entry.older === undefined) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = entry.newer = undefined; // a removed entry may linger in the heap; let it hold nothing
    this.heldBytes -= entry.bytes;
    if (entry.msg.expiresAt !== undefined) this.liveExpiring--;
  }

  private nodeFor(topic: string): TopicNode {
    let node = this.root;
    for (const level of topic.split('/')) {
      const children = (node.children ??= new Map());
      let child = children.get(level);
      if (child === undefined) {
        child = new TopicNode(node, level);
        children.set(level, child);
      }
      node = child;
    }
    return node;
  }

  /** Detaches `node` and its ancestors while they hold neither a message nor children. */
  private prune(node: TopicNode): void {
    let current = node;
    while (current.parent !== undefined && current.entry === undefined && current.children === undefined) {
      const parent: TopicNode = current.parent;
      parent.children!.delete(current.level);
      if (parent.children!.size === 0) parent.children = undefined;
      current = parent;
    }
  }

  private pushExpiring(entry: Entry): void {
    this.liveExpiring++;
    if (this.expiryHeap.length >= 2 * this.liveExpiring + HEAP_SLACK) this.compactHeap();
    const heap = this.expiryHeap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (expiryOf(heap[parent]!) <= expiryOf(entry)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  private popExpiring(): void {
    const heap = this.expiryHeap;
    const last = heap.pop()!;
    if (heap.length > 0) siftDown(heap, 0, last);
  }

  /** Drops the slots of removed entries and restores heap order. */
  private compactHeap(): void {
    const heap = this.expiryHeap.filter((e) => !e.removed);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i, heap[i]!);
    this.expiryHeap = heap;
  }
}

function expiryOf(entry: Entry): number {
  return entry.msg.expiresAt!;
}

/** Places `entry` at slot `i` of `heap` and moves it down to where it belongs. */
function siftDown(heap: Entry[], i: number, entry: Entry): void {
  const n = heap.length;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && expiryOf(heap[child + 1]!) < expiryOf(heap[child]!)) child++;
    if (expiryOf(heap[child]!) >= expiryOf(entry)) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = entry;
}

function estimateBytes(msg: AppMessage): number {
  return ENTRY_OVERHEAD_BYTES + messageBytes(msg);
}

/** Visits the unexpired messages under `node` that match `levels[i..]`. */
function matchFrom(node: TopicNode, levels: string[], i: number, now: number, visit: (msg: AppMessage) => void): void {
  if (i === levels.length) {
    visitEntry(node.entry, now, visit);
    return;
  }
  const level = levels[i]!;
  if (level === '#') {
    // '#' matches the parent level itself and every level below it.
    visitEntry(node.entry, now, visit);
    if (node.children !== undefined) {
      for (const child of node.children.values()) {
        if (i === 0 && isDollarTopic(child.level)) continue; // [MQTT-4.7.2-1]
        visitSubtree(child, now, visit);
      }
    }
  } else if (level === '+') {
    if (node.children !== undefined) {
      for (const child of node.children.values()) {
        if (i === 0 && isDollarTopic(child.level)) continue; // [MQTT-4.7.2-1]
        matchFrom(child, levels, i + 1, now, visit);
      }
    }
  } else {
    const child = node.children?.get(level);
    if (child !== undefined) matchFrom(child, levels, i + 1, now, visit);
  }
}

function visitSubtree(node: TopicNode, now: number, visit: (msg: AppMessage) => void): void {
  visitEntry(node.entry, now, visit);
  if (node.children !== undefined) for (const child of node.children.values()) visitSubtree(child, now, visit);
}

function visitEntry(entry: Entry | undefined, now: number, visit: (msg: AppMessage) => void): void {
  if (entry !== undefined && (entry.msg.expiresAt === undefined || entry.msg.expiresAt > now)) visit(entry.msg);
}
