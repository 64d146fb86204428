/**
 * A Map made on its first entry. An empty Map costs about 180 bytes of heap,
 * and most sessions never put anything in some of theirs (inflight
 * messages, QoS 2 ids awaiting release, subscriptions of a publisher):
 * thousands of idle connections pay for them. Any thread.
 */
const EMPTY: ReadonlyMap<unknown, unknown> = new Map();

export class LazyMap<K, V> implements ReadonlyMap<K, V> {
  private map: Map<K, V> | undefined;

  private get entriesOrEmpty(): ReadonlyMap<K, V> {
    return this.map ?? (EMPTY as ReadonlyMap<K, V>);
  }

  get size(): number {
    return this.map?.size ?? 0;
  }

  has(key: K): boolean {
    return this.map?.has(key) ?? false;
  }

  get(key: K): V | undefined {
    return this.map?.get(key);
  }

  set(key: K, value: V): this {
    (this.map ??= new Map()).set(key, value);
    return this;
  }

  delete(key: K): boolean {
    return this.map?.delete(key) ?? false;
  }

  /** Drops the entries and the Map that held them. */
  clear(): void {
    this.map = undefined;
  }

  keys(): MapIterator<K> {
    return this.entriesOrEmpty.keys();
  }

  values(): MapIterator<V> {
    return this.entriesOrEmpty.values();
  }

  entries(): MapIterator<[K, V]> {
    return this.entriesOrEmpty.entries();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entriesOrEmpty.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    this.map?.forEach((value, key) => callback(value, key, this));
  }
}
