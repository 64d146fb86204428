/**
 * The subscription trie: (topic filter, key) -> value, keyed by filter levels,
 * answering "which subscriptions match this topic name" with the MQTT wildcard
 * rules (spec section 4.7). Owned by the router; runs on the main thread.
 *
 * Each node has a Map of literal children, a separate child for `+`, the
 * entries whose filter ends at the node, and the entries whose filter ends in
 * `#` just below it. Matching splits the topic once and walks the trie without
 * further allocation.
 */
import { isDollarTopic } from './topic.js';

class TrieNode<V> {
  children: Map<string, TrieNode<V>> | undefined = undefined;
  plus: TrieNode<V> | undefined = undefined;
  /** Entries whose filter ends at this node; `exactFilter` is that filter. */
  exact: Map<number, V> | undefined = undefined;
  exactFilter = '';
  /** Entries whose filter is this node's path plus `/#` (or `#` at the root). */
  hash: Map<number, V> | undefined = undefined;
  hashFilter = '';

  isEmpty(): boolean {
    return this.children === undefined && this.plus === undefined && this.exact === undefined && this.hash === undefined;
  }
}

export class TopicTrie<V> {
  private readonly root = new TrieNode<V>();
  private entryCount = 0;

  /** The number of (filter, key) entries. */
  get size(): number {
    return this.entryCount;
  }

  /**
   * Stores `value` for (`filter`, `key`). `filter` must be a valid topic filter
   * (see isValidTopicFilter) without a `$share/` prefix. Returns true when the
   * entry is new, false when it replaced the value of an existing one.
   */
  add(filter: string, key: number, value: V): boolean {
    const levels = filter.split('/');
    const last = levels.length - 1;
    let node = this.root;
    let map: Map<number, V>;
    if (levels[last] === '#') {
      for (let i = 0; i < last; i++) node = this.childFor(node, levels[i]!);
      map = node.hash ??= new Map();
      node.hashFilter = filter;
    } else {
      for (let i = 0; i <= last; i++) node = this.childFor(node, levels[i]!);
      map = node.exact ??= new Map();
      node.exactFilter = filter;
    }
    const isNew = !map.has(key);
    map.set(key, value);
    if (isNew) this.entryCount++;
    return isNew;
  }

  /** Removes the entry (`filter`, `key`) and prunes emptied nodes. Returns whether it existed. */
  remove(filter: string, key: number): boolean {
    const removed = this.removeAt(this.root, filter.split('/'), 0, key);
    if (removed) this.entryCount--;
    return removed;
  }

  /**
   * Calls `visit` for every entry whose filter matches the topic name `topic`.
   * `+` matches exactly one level (an empty one too), `#` zero or more trailing
   * levels. A topic whose first level starts with `$` is not matched by a filter
   * whose first level is `+` or `#` [MQTT-4.7.2-1]. `visit` must not modify the trie.
   */
  match(topic: string, visit: (key: number, value: V, filter: string) => void): void {
    const levels = topic.split('/');
    const root = this.root;
    if (!isDollarTopic(topic)) {
      if (root.hash !== undefined) visitAll(root.hash, root.hashFilter, visit);
      if (root.plus !== undefined) matchFrom(root.plus, levels, 1, visit);
    }
    const child = root.children?.get(levels[0]!);
    if (child !== undefined) matchFrom(child, levels, 1, visit);
  }

  /** Every entry as [filter, key, value]; for tests and diagnostics. */
  *entries(): IterableIterator<[filter: string, key: number, value: V]> {
    yield* entriesOf(this.root);
  }

  private childFor(node: TrieNode<V>, level: string): TrieNode<V> {
    if (level === '+') return (node.plus ??= new TrieNode());
    const children = (node.children ??= new Map());
    let child = children.get(level);
    if (child === undefined) {
      child = new TrieNode();
      children.set(level, child);
    }
    return child;
  }

  private removeAt(node: TrieNode<V>, levels: string[], i: number, key: number): boolean {
    const last = levels.length - 1;
    if (i === last && levels[i] === '#') {
      if (node.hash === undefined || !node.hash.delete(key)) return false;
      if (node.hash.size === 0) node.hash = undefined;
      return true;
    }
    if (i > last) {
      if (node.exact === undefined || !node.exact.delete(key)) return false;
      if (node.exact.size === 0) node.exact = undefined;
      return true;
    }
    const level = levels[i]!;
    const child = level === '+' ? node.plus : node.children?.get(level);
    if (child === undefined || !this.removeAt(child, levels, i + 1, key)) return false;
    if (child.isEmpty()) {
      if (level === '+') node.plus = undefined;
      else {
        node.children!.delete(level);
        if (node.children!.size === 0) node.children = undefined;
      }
    }
    return true;
  }
}

/** Matches `levels[i..]` against the subtree at `node`, which sits below level i-1. */
function matchFrom<V>(node: TrieNode<V>, levels: string[], i: number, visit: (key: number, value: V, filter: string) => void): void {
  // A filter ending in '#' here matches the parent level itself and anything below it.
  if (node.hash !== undefined) visitAll(node.hash, node.hashFilter, visit);
  if (i === levels.length) {
    if (node.exact !== undefined) visitAll(node.exact, node.exactFilter, visit);
    return;
  }
  if (node.plus !== undefined) matchFrom(node.plus, levels, i + 1, visit);
  const child = node.children?.get(levels[i]!);
  if (child !== undefined) matchFrom(child, levels, i + 1, visit);
}

function visitAll<V>(entries: Map<number, V>, filter: string, visit: (key: number, value: V, filter: string) => void): void {
  for (const [key, value] of entries) visit(key, value, filter);
}

function* entriesOf<V>(node: TrieNode<V>): Generator<[string, number, V]> {
  if (node.exact !== undefined) for (const [k, v] of node.exact) yield [node.exactFilter, k, v];
  if (node.hash !== undefined) for (const [k, v] of node.hash) yield [node.hashFilter, k, v];
  if (node.plus !== undefined) yield* entriesOf(node.plus);
  if (node.children !== undefined) for (const child of node.children.values()) yield* entriesOf(child);
}
