/**
 * The worker-count recommendation of `npm run bench -- --sweep-workers`
 * (bench/cli.ts, orchestrator process): for each Shoal worker count, the
 * geometric mean over the throughput metrics of value ÷ the best value any
 * worker count reached. The highest score wins; a count within TIE_MARGIN of
 * it with fewer workers wins instead (fewer threads for the same work).
 */
import { findMetric, metricCatalogue, type Recommendation, type RunRecord } from './model.js';
import type { ScenarioName } from '../load/result.js';

/** Scores closer than this (relative) to the best count as a tie, since run-to-run noise on a shared box is several %. */
const TIE_MARGIN = 0.03;

export function recommendWorkers(runs: readonly RunRecord[], scenarios: readonly ScenarioName[]): Recommendation | null {
  const shoal = [
    ...new Map(
      runs.filter((r) => r.target.kind === 'shoal' && r.target.hooks === undefined).map((r) => [r.target.label, r.target.workers ?? 0]),
    ).entries(),
  ].sort((a, b) => a[1] - b[1]);
  if (shoal.length < 2) return null;
  const metrics = metricCatalogue(runs, scenarios).filter((c) => c.metric.throughput === true);
  // Only metrics every worker count reported (and above zero) can be compared.
  const usable = metrics.filter((c) => shoal.every(([label]) => (findMetric(runs, c.scenario, label, c.metric.key)?.value ?? 0) > 0));
  if (usable.length === 0) return null;
  const scores = shoal.map(([label, workers]) => {
    let logSum = 0;
    for (const { scenario, metric } of usable) {
      const best = Math.max(...shoal.map(([l]) => findMetric(runs, scenario, l, metric.key)?.value ?? 0));
      logSum += Math.log((findMetric(runs, scenario, label, metric.key)?.value ?? 0) / best);
    }
    return { workers, score: Math.round(Math.exp(logSum / usable.length) * 1000) / 1000 };
  });
  const top = scores.reduce((a, b) => (b.score > a.score ? b : a));
  const chosen = scores.find((s) => s.score >= top.score * (1 - TIE_MARGIN)) ?? top;
  const table = scores.map((s) => `w=${s.workers} ${s.score.toFixed(3)}`).join(', ');
  const names = usable.map((c) => `${c.scenario} ${c.metric.key}`).join(', ');
  const reason =
    chosen.workers === top.workers
      ? `highest throughput score (${table}; geometric mean of value ÷ best over ${names})`
      : `within ${TIE_MARGIN * 100}% of the best (w=${top.workers}), so the fewer workers win (${table}; geometric mean of value ÷ best over ${names})`;
  return { workers: chosen.workers, reason, scores };
}
