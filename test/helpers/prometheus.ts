/**
 * Scrapes a Prometheus text-format endpoint and parses it (comments, samples
 * with labels, values), so tests can read metrics by name and labels.
 * Test process.
 */
import assert from 'node:assert/strict';

export interface Scrape {
  /** The raw text. */
  text: string;
  /** The HELP/TYPE declared per metric family. */
  types: Map<string, string>;
  /** The value of the sample `name` whose labels include `labels`, summed over the samples that match; undefined when none does. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name`, with its labels. */
  samples(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Scrape {
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL))
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(match[3]);
    // Prometheus reads NaN in any case (prom-client writes `Nan`).
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(match[3]!), `not a number in: ${line}`);
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

/** GET `http://127.0.0.1:<port>/metrics`, checked for status and content type, parsed. */
export async function scrapeMetrics(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}
