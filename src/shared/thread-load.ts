/**
 * The load of the thread that makes it: its event loop's busy and idle time
 * since it started, the delay of its event loop over the last window
 * (percentiles of perf_hooks' monitorEventLoopDelay sampled every
 * DELAY_RESOLUTION_MS, a fresh window once the last was read and is
 * LOAD_WINDOW_MS old), and its garbage collections
 * (count, total and longest pause). One per thread: the main thread's, and
 * one in each worker thread that hosts actors. Used on every thread.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';

/** How long a window of event-loop delay lasts at least before a read starts a new one, in ms. */
const LOAD_WINDOW_MS = 5000;
/**
 * The delay monitor's sampling interval, in ms: each sample wakes the thread,
 * which an idle broker pays for (every 10 ms made an idle broker's CPU
 * several times what it was without the monitor); a 5 s window still holds
 * 100 samples.
 */
const DELAY_RESOLUTION_MS = 50;

/** One thread's load, as the control plane carries it (seconds throughout). */
export interface ThreadLoadStats {
  /** Time the event loop spent running code, and waiting for I/O, since the thread started. */
  activeSeconds: number;
  idleSeconds: number;
  /** Event-loop delay over the current window (beyond the monitor's own resolution). */
  delayMeanSeconds: number;
  delayP99Seconds: number;
  delayMaxSeconds: number;
  /** Garbage collections since the thread started: how many, their total and their longest pause. */
  gcCount: number;
  gcSeconds: number;
  gcMaxSeconds: number;
}

export class ThreadLoad {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  private readonly gc: PerformanceObserver;
  private windowStart = performance.now();
  private gcCount = 0;
  private gcMs = 0;
  private gcMaxMs = 0;

  constructor() {
    this.delay.enable();
    this.gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcCount++;
        this.gcMs += entry.duration;
        if (entry.duration > this.gcMaxMs) this.gcMaxMs = entry.duration;
      }
    });
    this.gc.observe({ entryTypes: ['gc'] });
  }

  stats(): ThreadLoadStats {
    const { active, idle } = performance.eventLoopUtilization();
    const delay = this.delay;
    // The histogram records nanoseconds, resolution included; an empty window reads as NaN mean.
    const beyond = (ns: number): number => Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS) / 1000;
    const stats: ThreadLoadStats = {
      activeSeconds: active / 1000,
      idleSeconds: idle / 1000,
      delayMeanSeconds: delay.count > 0 ? beyond(delay.mean) : 0,
      delayP99Seconds: delay.count > 0 ? beyond(delay.percentile(99)) : 0,
      delayMaxSeconds: delay.count > 0 ? beyond(delay.max) : 0,
      gcCount: this.gcCount,
      gcSeconds: this.gcMs / 1000,
      gcMaxSeconds: this.gcMaxMs / 1000,
    };
    const now = performance.now();
    if (now - this.windowStart >= LOAD_WINDOW_MS) {
      this.windowStart = now;
      delay.reset();
    }
    return stats;
  }

  close(): void {
    this.delay.disable();
    this.gc.disconnect();
  }
}
