/**
 * A reader of the Prometheus text exposition format: comments, samples with
 * labels and values, so the bench (a Shoal target's per-thread figures) and
 * the tests (checks of `/metrics`) read metrics by name and labels. No I/O.
 */

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusText {
  /** The text as read. */
  text: string;
  /** The TYPE declared per metric family. */
  types: Map<string, string>;
  /** The sum of the samples of `name` whose labels include `labels`; undefined when none does. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name`, with its labels. */
  samples(name: string): Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses `text`; throws on a line that is neither a comment nor a sample. */
export function parsePrometheus(text: string): PrometheusText {
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL))
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(match[3]);
    // Prometheus reads NaN in any case (prom-client writes `Nan`).
    if (Number.isNaN(value) && !/^nan$/i.test(match[3]!)) throw new Error(`not a number in: ${line}`);
    const list = samples.get(match[1]!) ?? [];
    list.push({ labels, value });
    samples.set(match[1]!, list);
  }
  return {
    text,
    types,
    samples: (name) => samples.get(name) ?? [],
    value(name, wanted = {}) {
      const hits = (samples.get(name) ?? []).filter((s) => Object.entries(wanted).every(([k, v]) => s.labels[k] === v));
      return hits.length === 0 ? undefined : hits.reduce((n, s) => n + s.value, 0);
    },
  };
}
