#!/usr/bin/env node
// `npm run lint`: ESLint over the repository (eslint.config.js), then
// `prettier --check` (.prettierrc.json, .prettierignore). Both always run;
// a summary ends the output, and the exit status is 1 if either failed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();

const eslint = new ESLint({ cwd: root });
const results = await eslint.lintFiles(['.']);
const formatter = await eslint.loadFormatter('stylish');
const report = await formatter.format(results);
if (report !== '') console.log(report);
const eslintSeconds = (performance.now() - started) / 1000;

let errors = 0;
let warnings = 0;
const byRule = new Map();
for (const result of results) {
  errors += result.errorCount;
  warnings += result.warningCount;
  for (const message of result.messages) {
    const rule = message.ruleId ?? '(parse error)';
    byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
  }
}
const filesWithProblems = results.filter((result) => result.messages.length > 0).length;

const prettierStarted = performance.now();
const prettier = spawnSync(process.execPath, [fileURLToPath(import.meta.resolve('prettier/bin/prettier.cjs')), '--list-different', '.'], {
  cwd: root,
  encoding: 'utf8',
});
const prettierSeconds = (performance.now() - prettierStarted) / 1000;
const unformatted = prettier.stdout.split('\n').filter((line) => line !== '');
if (prettier.stderr !== '') process.stderr.write(prettier.stderr);
if (unformatted.length > 0) {
  console.log('prettier: not formatted (npm run format writes them):');
  for (const file of unformatted) console.log(`  ${file}`);
}
// --list-different exits 1 when files differ, 2 on a real failure (syntax error, bad config).
const prettierBroken = prettier.status !== 0 && !(prettier.status === 1 && unformatted.length > 0);

console.log('\nlint summary');
console.log(
  `  eslint:   ${errors} error(s), ${warnings} warning(s) in ${filesWithProblems} of ${results.length} files (${eslintSeconds.toFixed(1)} s)`,
);
for (const [rule, count] of [...byRule].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
  console.log(`            ${String(count).padStart(4)}  ${rule}`);
}
console.log(
  prettierBroken
    ? `  prettier: failed (exit status ${prettier.status})`
    : `  prettier: ${unformatted.length} file(s) not formatted (${prettierSeconds.toFixed(1)} s)`,
);
const failed = errors > 0 || unformatted.length > 0 || prettierBroken;
console.log(failed ? '  result:   FAILED' : '  result:   ok');
process.exitCode = failed ? 1 : 0;
