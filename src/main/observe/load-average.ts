/**
 * Mosquitto's `$SYS/broker/load/...` figures: for each counter, the moving
 * average of its rate per minute over 1, 5 and 15 minutes, updated at every
 * `$SYS` publication with the time since the last one (an exponentially
 * weighted average, as load averages are). Main thread.
 */

/** The averaging windows, by the name of their topic level, in seconds. */
const WINDOWS = [
  ['1min', 60],
  ['5min', 300],
  ['15min', 900],
] as const;

export class LoadAverages {
  /** Per counter name: its last value and its averages per window. */
  private readonly counters = new Map<string, { last: number; averages: number[] }>();
  private lastAt: number | undefined;

  /** Takes the counters' current values at `now` (ms); answers every average as [`name/window`, per minute]. */
  update(values: Record<string, number>, now: number): Array<[string, number]> {
    const elapsed = this.lastAt === undefined ? 0 : (now - this.lastAt) / 1000;
    this.lastAt = now;
    const out: Array<[string, number]> = [];
    for (const [name, value] of Object.entries(values)) {
      let entry = this.counters.get(name);
      if (entry === undefined) {
        entry = { last: value, averages: WINDOWS.map(() => 0) };
        this.counters.set(name, entry);
      }
      if (elapsed > 0) {
        const perMinute = (Math.max(0, value - entry.last) / elapsed) * 60;
        WINDOWS.forEach(([, seconds], i) => {
          const keep = Math.exp(-elapsed / seconds);
          entry.averages[i] = entry.averages[i]! * keep + perMinute * (1 - keep);
        });
      }
      entry.last = value;
      WINDOWS.forEach(([window], i) => out.push([`${name}/${window}`, Math.round(entry.averages[i]! * 100) / 100]));
    }
    return out;
  }
}
