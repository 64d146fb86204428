/**
 * Timers at absolute deadlines (ms since the epoch), however far away: a
 * session's expiry and a will's delay can be longer than the longest wait a
 * Node.js timer takes, so the wait is taken in legs. Runs wherever the
 * actor host runs.
 */
/** The longest wait a Node.js timer takes (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 0x7fffffff;

/** An unref'd timer that calls `fire` at `deadline` (ms since the epoch), however far: `arm` gets the handle of each leg. */
export function timerFor(deadline: number, fire: () => void, arm: (timer: NodeJS.Timeout) => void): void {
  const wait = Math.max(0, deadline - Date.now());
  const timer = wait > MAX_TIMER_MS ? setTimeout(() => timerFor(deadline, fire, arm), MAX_TIMER_MS) : setTimeout(fire, wait);
  timer.unref();
  arm(timer);
}

/** The deadline of an offline session with `expiry` seconds to live; null when it never expires. */
export function deadlineAfter(expiry: number): number | null {
  return expiry >= 0xffffffff ? null : Date.now() + expiry * 1000;
}
