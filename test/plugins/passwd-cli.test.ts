/**
 * How `shoal passwd` reads the password: from a pipe, its first line with no
 * prompt; at a terminal (a pseudo-terminal made by util-linux `script`),
 * typed twice without echo in raw mode, Backspace erasing, the two compared,
 * and Ctrl-C giving up without touching the file. Each run is bounded.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePasswordFile } from '../../src/plugins/passwd.js';
import { verifyPassword } from '../../src/plugins/password-hash.js';
import { CLI, runCli } from '../helpers/cli.js';
import { WAIT_MS } from '../helpers/clients.js';
import { tempDir } from './support.js';

const tmp = tempDir('passwd-cli-input');

async function passwordOf(file: string, user: string, password: string): Promise<boolean> {
  const entry = parsePasswordFile(readFileSync(file, 'utf8')).get(user);
  assert.ok(entry, `${user} in ${file}`);
  return verifyPassword(entry, Buffer.from(password));
}

describe('shoal passwd from a pipe', () => {
  after(() => tmp.remove());

  test('takes the first line of stdin, prompts for nothing', async () => {
    const file = join(tmp.dir, 'piped');
    const run = await runCli(['passwd', file, 'erin'], 'first-line\nsecond-line\n');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(await passwordOf(file, 'erin', 'first-line'), true);
    assert.equal(await passwordOf(file, 'erin', 'second-line'), false);
  });

  test('refuses an empty first line', async () => {
    const file = join(tmp.dir, 'empty');
    const run = await runCli(['passwd', file, 'erin'], '\nlater\n');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /empty password/);
    assert.equal(existsSync(file), false);
  });
});

const hasScript = !spawnSync('script', ['--version'], { stdio: 'ignore' }).error;

/**
 * Runs `shoal passwd ...args` on a pseudo-terminal (`script -q -e -c`);
 * answers each prompt with the next of `typed` once the prompt shows.
 * Resolves with everything the terminal showed and the exit code.
 */
function onTerminal(args: string[], typed: string[]): Promise<{ shown: string; code: number | null }> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let shown = '';
  let answered = 0;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    shown += text;
    const prompts = shown.match(/password: /gi)?.length ?? 0;
    // Each prompt is written after raw mode is on, so nothing typed after it is echoed.
    if (prompts > answered && answered < typed.length) child.stdin.write(typed[answered++]!);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shoal ${args.join(' ')} on a terminal: no exit within ${WAIT_MS} ms; shown: ${JSON.stringify(shown)}`));
    }, WAIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ shown, code });
    });
  });
}

describe('shoal passwd at a terminal', { skip: hasScript ? false : 'util-linux script not installed (no pseudo-terminal)' }, () => {
  const dir = tempDir('passwd-tty');
  after(() => dir.remove());

  test('asks twice and echoes nothing; Backspace erases', async () => {
    const file = join(dir.dir, 'typed');
    const { shown, code } = await onTerminal(['passwd', file, 'frank'], ['hid\x7f\x7fidden-pw\r', 'hidden-pw\r']);
    assert.equal(code, 0, shown);
    assert.match(shown, /^Password: \r?\nReenter password: \r?\n$/);
    assert.doesNotMatch(shown, /hid/);
    assert.equal(await passwordOf(file, 'frank', 'hidden-pw'), true);
  });

  test('refuses two different passwords, and Ctrl-C gives up; the file keeps its lines', async () => {
    const file = join(dir.dir, 'kept');
    assert.equal((await runCli(['passwd', file, 'frank'], 'old-pw\n')).code, 0);
    const before = readFileSync(file, 'utf8');
    const mismatch = await onTerminal(['passwd', file, 'frank'], ['new-pw\r', 'new-pq\r']);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.shown, /the passwords do not match/);
    assert.doesNotMatch(mismatch.shown, /new-p/);
    const interrupted = await onTerminal(['passwd', file, 'frank'], ['new-\x03']);
    assert.equal(interrupted.code, 1);
    assert.match(interrupted.shown, /interrupted/);
    assert.equal(readFileSync(file, 'utf8'), before);
    assert.equal(await passwordOf(file, 'frank', 'old-pw'), true);
  });
});
