/**
 * Scrapes a Shoal broker's `/metrics` over HTTP, checks the answer's status
 * and content type, and parses it (bench/report/prometheus-text.ts) so tests
 * read metrics by name and labels. Test process.
 */
import assert from 'node:assert/strict';
import { parsePrometheus, type PrometheusText } from '../../bench/report/prometheus-text.js';

export type Scrape = PrometheusText;

/** GET `http://127.0.0.1:<port>/metrics`, checked for status and content type, parsed. */
export async function scrapeMetrics(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}
