/**
 * Token bucket for one session's incoming PUBLISH rate: `rate` tokens per
 * second, holding at most rate + burst, starting full. Never blocks: take()
 * answers whether a token was there. Lives inside a session actor; runs
 * wherever the actor host runs.
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
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
