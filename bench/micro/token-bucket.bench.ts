/**
 * Micro-benchmarks for TokenBucket.take (workers/session/token-bucket.ts), the
 * per-PUBLISH rate check a session actor makes (in a worker thread, or on the
 * main thread with `workers: 0`; here on the bench's main thread). Four cases:
 * a bucket that stays non-empty with the clock standing still (many publishes
 * in one millisecond, so no refill arithmetic), the same with the clock moving
 * every call (refill every call), the same with a real `Date.now()` per call
 * (what the session does), and an empty bucket (the refusal path). One
 * iteration makes 1024 calls, because a single call is far below the timer's
 * resolution; the table divides by 1024. Each task has its own loop (so its
 * call site stays monomorphic) and checks afterwards that every call gave the
 * answer it was meant to measure.
 */
import type { Bench } from 'tinybench';
import { TokenBucket } from '../../workers/session/token-bucket.js';
import { itemsPerIteration } from './task-info.js';

const CALLS = 1024;
/** Refill rate and burst that one run can never use up. */
const NEVER_EMPTY = 1e9;

interface Tally {
  granted: number;
  refused: number;
}

function checked(name: string, tally: Tally, expected: boolean): { afterAll: () => void } {
  return {
    afterAll: () => {
      const wrong = expected ? tally.refused : tally.granted;
      if (wrong > 0) throw new Error(`${name}: ${wrong} of ${tally.granted + tally.refused} takes answered ${!expected}`);
    },
  };
}

export async function register(bench: Bench): Promise<void> {
  {
    const name = 'token-bucket: take, non-empty, same ms';
    const bucket = new TokenBucket(NEVER_EMPTY, NEVER_EMPTY, 0);
    const t: Tally = { granted: 0, refused: 0 };
    let now = 0;
    bench.add(
      name,
      () => {
        now++; // one refill per 1024 calls, as when many publishes land in the same millisecond
        for (let i = 0; i < CALLS; i++) {
          if (bucket.take(now)) t.granted++;
          else t.refused++;
        }
      },
      checked(name, t, true),
    );
    itemsPerIteration(name, CALLS, 'take');
  }
  {
    const name = 'token-bucket: take, non-empty, refill every call';
    const bucket = new TokenBucket(NEVER_EMPTY, NEVER_EMPTY, 0);
    const t: Tally = { granted: 0, refused: 0 };
    let now = 0;
    bench.add(
      name,
      () => {
        for (let i = 0; i < CALLS; i++) {
          if (bucket.take(++now)) t.granted++;
          else t.refused++;
        }
      },
      checked(name, t, true),
    );
    itemsPerIteration(name, CALLS, 'take');
  }
  {
    const name = 'token-bucket: take(Date.now()), non-empty';
    const bucket = new TokenBucket(NEVER_EMPTY, NEVER_EMPTY, Date.now());
    const t: Tally = { granted: 0, refused: 0 };
    bench.add(
      name,
      () => {
        for (let i = 0; i < CALLS; i++) {
          if (bucket.take(Date.now())) t.granted++;
          else t.refused++;
        }
      },
      checked(name, t, true),
    );
    itemsPerIteration(name, CALLS, 'take');
  }
  {
    const name = 'token-bucket: take, empty (refused)';
    // Rate 1/s, no burst: capacity 1, emptied here; the clock never moves again, so every call refuses.
    const bucket = new TokenBucket(1, 0, 0);
    bucket.take(0);
    const t: Tally = { granted: 0, refused: 0 };
    bench.add(
      name,
      () => {
        for (let i = 0; i < CALLS; i++) {
          if (bucket.take(0)) t.granted++;
          else t.refused++;
        }
      },
      checked(name, t, false),
    );
    itemsPerIteration(name, CALLS, 'take');
  }
}
