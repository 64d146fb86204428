/**
 * The successful password checks `shoal/passwd` remembers, so that a client
 * reconnecting with the same username and password skips the slow hash
 * (scrypt and PBKDF2 run on libuv's pool of four threads: a reconnect storm
 * would queue behind it). Per username it keeps an HMAC-SHA256 of the
 * password under a key drawn at random when the cache is made (never the
 * password), the file entry it was checked against, and when it expires.
 * Bounded by entries (the least recently used goes first) and by time; the
 * plugin clears it whenever its file is read again. Runs in each actor host,
 * one cache per host.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

interface Remembered<E> {
  mac: Buffer;
  entry: E;
  expiresAt: number;
}

export class CheckCache<E> {
  private readonly key = randomBytes(32);
  /** By username, least recently used first (a Map keeps insertion order). */
  private readonly checks = new Map<string, Remembered<E>>();

  /**
   * @param maxEntries most usernames remembered; 0 = none (no cache)
   * @param ttlMs how long a check is remembered, in milliseconds
   * @param now the clock, in milliseconds
   */
  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.checks.size;
  }

  private mac(password: Buffer): Buffer {
    return createHmac('sha256', this.key).update(password).digest();
  }

  /** Whether `password` was checked right for `username` against this very `entry`, within the time bound. */
  has(username: string, password: Buffer, entry: E): boolean {
    const remembered = this.checks.get(username);
    if (remembered === undefined) return false;
    if (remembered.entry !== entry || remembered.expiresAt <= this.now()) {
      this.checks.delete(username);
      return false;
    }
    if (!timingSafeEqual(remembered.mac, this.mac(password))) return false;
    this.checks.delete(username);
    this.checks.set(username, remembered);
    return true;
  }

  /** Remembers a successful check, dropping the least recently used one beyond `maxEntries`. */
  remember(username: string, password: Buffer, entry: E): void {
    if (this.maxEntries === 0) return;
    this.checks.delete(username);
    this.checks.set(username, { mac: this.mac(password), entry, expiresAt: this.now() + this.ttlMs });
    if (this.checks.size > this.maxEntries) this.checks.delete(this.checks.keys().next().value as string);
  }

  clear(): void {
    this.checks.clear();
  }
}
