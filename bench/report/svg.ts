/**
 * Hand-built SVG chart of a bench report (bench/cli.ts, orchestrator process;
 * no charting dependency). Two panels against Shoal's worker count: every
 * throughput metric and p99 latency, both on log scales (one colour per
 * metric). Shoal is drawn as solid lines with points; each peer broker as a
 * horizontal line in the metric's colour, one dash style per peer.
 */
import type { ScenarioName } from '../load/result.js';
import { findMetric, metricCatalogue, type BenchReport } from './model.js';
import { formatNumber } from './table.js';

const WIDTH = 1000;
const HEIGHT = 480;
const PANEL_WIDTH = 440;
const PLOT = { top: 60, bottom: 330, left: 80 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const PEER_DASHES = ['8 4', '2 4', '12 4 2 4'];

interface Series {
  name: string;
  colour: string;
  /** Shoal's value at each worker count (undefined where the run failed). */
  shoal: (number | undefined)[];
  peers: (number | undefined)[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const text = (x: number, y: number, s: string, attrs = ''): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;

/** Log scale over the values with some margin: ticks at 1, 2, 5 × 10^k when the range is under two decades, else at 10^k. */
function logScale(values: number[]): { y(v: number): number; ticks: number[] } {
  const lo = Math.log10(Math.min(...values) / 1.5);
  const hi = Math.log10(Math.max(...values) * 1.5);
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of hi - lo < 2 ? [1, 2, 5] : [1]) {
      const t = m * 10 ** e;
      if (Math.log10(t) >= lo && Math.log10(t) <= hi) ticks.push(t);
    }
  }
  return { y: (v) => PLOT.bottom - ((Math.log10(v) - lo) / (hi - lo)) * (PLOT.bottom - PLOT.top), ticks };
}

function panel(x0: number, title: string, unit: string, series: Series[], workers: number[], peers: string[]): string {
  const values = series.flatMap((s) => [...s.shoal, ...s.peers]).filter((v): v is number => v !== undefined && v > 0);
  const parts = [text(x0 + PANEL_WIDTH / 2, 40, title, 'text-anchor="middle" font-weight="bold"')];
  const right = x0 + PANEL_WIDTH;
  const left = x0 + PLOT.left;
  parts.push(`<rect x="${left}" y="${PLOT.top}" width="${right - left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#999"/>`);
  if (values.length === 0)
    return [...parts, text((left + right) / 2, (PLOT.top + PLOT.bottom) / 2, 'no data', 'text-anchor="middle" fill="#999"')].join('\n');
  const scale = logScale(values);
  const x = (i: number): number =>
    workers.length <= 1 ? (left + right) / 2 : left + 30 + (i * (right - left - 60)) / (workers.length - 1);
  for (const t of scale.ticks) {
    const y = scale.y(t);
    parts.push(`<line x1="${left}" x2="${right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`);
    parts.push(text(left - 6, y + 4, formatNumber(t), 'text-anchor="end"'));
  }
  workers.forEach((w, i) => parts.push(text(x(i), PLOT.bottom + 18, String(w), 'text-anchor="middle"')));
  const axis = workers.length === 0 ? 'no Shoal runs: peers only' : 'Shoal worker threads (--workers)';
  parts.push(text((left + right) / 2, PLOT.bottom + 38, axis, 'text-anchor="middle"'));
  parts.push(
    text(
      x0 + 16,
      (PLOT.top + PLOT.bottom) / 2,
      unit,
      `text-anchor="middle" transform="rotate(-90 ${x0 + 16} ${(PLOT.top + PLOT.bottom) / 2})"`,
    ),
  );
  for (const s of series) {
    s.peers.forEach((v, p) => {
      if (v === undefined || v <= 0) return;
      const y = scale.y(v).toFixed(1);
      parts.push(
        `<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="${s.colour}" stroke-dasharray="${PEER_DASHES[p % PEER_DASHES.length]}" opacity="0.8"><title>${esc(`${s.name} · ${peers[p]}: ${formatNumber(v)}`)}</title></line>`,
      );
    });
    const points = s.shoal.map((v, i) => (v === undefined || v <= 0 ? null : { x: x(i), y: scale.y(v), v })).filter((p) => p !== null);
    if (points.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}"/>`,
      );
    for (const p of points) {
      parts.push(
        `<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="3.5" fill="${s.colour}"><title>${esc(`${s.name}: ${formatNumber(p.v)}`)}</title></circle>`,
      );
    }
  }
  return parts.join('\n');
}

function legend(series: Series[], peers: string[]): string {
  const parts: string[] = [];
  const y0 = PLOT.bottom + 70;
  series.forEach((s, i) => {
    const x = 20 + (i % 4) * 245;
    const y = y0 + Math.floor(i / 4) * 20;
    parts.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${s.colour}" stroke-width="2"/>`,
      text(x + 30, y, s.name),
    );
  });
  const y = y0 + Math.ceil(series.length / 4) * 20 + 10;
  parts.push(`<line x1="20" x2="44" y1="${y - 4}" y2="${y - 4}" stroke="#333" stroke-width="2"/>`, text(50, y, 'Shoal'));
  peers.forEach((peer, p) => {
    const x = 140 + p * 160;
    parts.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="#333" stroke-dasharray="${PEER_DASHES[p % PEER_DASHES.length]}"/>`,
      text(x + 30, y, peer),
    );
  });
  return parts.join('\n');
}

export function renderSvg(report: BenchReport): string {
  const shoal = [
    ...new Map(
      report.runs
        .filter((r) => r.target.kind === 'shoal' && r.target.hooks === undefined)
        .map((r) => [r.target.workers ?? 0, r.target.label]),
    ).entries(),
  ].sort((a, b) => a[0] - b[0]);
  const workers = shoal.map(([w]) => w);
  const peers = [...new Set(report.runs.filter((r) => r.target.kind !== 'shoal').map((r) => r.target.label))];
  const build = (scenario: ScenarioName, key: string, name: string, i: number): Series => ({
    name,
    colour: COLOURS[i % COLOURS.length] as string,
    shoal: shoal.map(([, label]) => findMetric(report.runs, scenario, label, key)?.value),
    peers: peers.map((label) => findMetric(report.runs, scenario, label, key)?.value),
  });
  const catalogue = metricCatalogue(report.runs, report.settings.scenarios);
  const throughput = catalogue
    .filter((c) => c.metric.throughput === true)
    .map((c, i) => build(c.scenario, c.metric.key, `${c.scenario} · ${c.metric.key}`, i));
  const p99 = catalogue
    .filter((c) => c.metric.key === 'p99')
    .map((c, i) => build(c.scenario, c.metric.key, `${c.scenario} · p99`, throughput.length + i));
  const env = report.environment;
  const subtitle = `${env.cpuModel} × ${env.logicalCpus} · Node ${env.node} · commit ${env.commit} · ${report.settings.durationS} s phases · ${env.date}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    text(WIDTH / 2, 18, `shoal load bench · ${subtitle}`, 'text-anchor="middle" fill="#555"'),
    panel(0, 'Throughput (log scale)', 'per second', throughput, workers, peers),
    panel(PANEL_WIDTH + 60, 'p99 end-to-end latency (log scale)', 'ms', p99, workers, peers),
    legend([...throughput, ...p99], peers),
    '</svg>',
    '',
  ].join('\n');
}
