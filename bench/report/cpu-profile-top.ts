/**
 * The functions that took the most self time in a V8 CPU profile (a
 * `.cpuprofile` from `node --cpu-prof`), with their share of the profile's
 * whole time, for BENCHMARKS.md's profiles:
 *
 *   node dist/bench/report/cpu-profile-top.js FILE.cpuprofile [--top 30]
 *
 * Functions of the same name at the same place are added up; `(idle)`,
 * `(garbage collector)` and `(program)` are V8's own entries. Orchestrator-side
 * tool; reads the file, prints a table.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '30' } }, allowPositionals: true, strict: true });
const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: cpu-profile-top.js FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfTime = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const frame = byId.get(id)?.callFrame;
  if (frame === undefined) return;
  const where = frame.url === '' ? '' : ` ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
  const key = `${frame.functionName || '(anonymous)'}${where}`;
  selfTime.set(key, (selfTime.get(key) ?? 0) + dt);
});
const rows = [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
for (const [key, time] of rows) process.stdout.write(`${((time / total) * 100).toFixed(1).padStart(5)} %  ${key}\n`);
