/**
 * Token bucket for one session's incoming PUBLISH rate: `rate` tokens per
 * second, holding at most rate + burst, starting full. Never blocks: take()
 * answers whether a token was there; borrow() takes one on credit and
 * answers how long until the debt is paid. Lives inside a session actor;
 * runs wherever the actor host runs.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;

  constructor(
    private readonly ratePerSecond: number,
    burst: number,
    now: number,
  ) {
    this.capacity = ratePerSecond + burst;
    this.tokens = this.capacity;
    this.last = now;
  }

  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Takes a token, on credit when there is none: the ms until the bucket is out of debt (0 when it is not in debt). */
  borrow(now: number): number {
    this.refill(now);
    this.tokens--;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond);
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
  }
}
