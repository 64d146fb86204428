/**
 * `shoal passwd FILE USER`: adds or replaces USER's line in the password file
 * of the bundled `shoal/passwd` plugin, with the password typed twice
 * without echo at a terminal, or the first line of stdin from a pipe
 * (password-prompt.ts). `shoal passwd -D FILE USER` deletes
 * the user. The file is created when missing (mode 0600) and replaced
 * atomically (written beside it, then renamed), so a broker reloading it
 * never reads half a file. Main thread.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readNewPassword } from './password-prompt.js';
import { hashPassword } from '../../plugins/password-hash.js';
import { parsePasswordFile } from '../../plugins/passwd.js';

export const PASSWD_USAGE = `Usage: shoal passwd FILE USER        add or replace USER; the password is typed twice (not shown)
                                     at a terminal, or is the first line of stdin from a pipe
       shoal passwd -D FILE USER     delete USER

Writes the password file of the bundled plugin shoal/passwd
(config: "plugins": [{ "module": "shoal/passwd", "options": { "file": "FILE" } }]).`;

export async function runPasswd(argv: string[], input: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { D: { type: 'boolean', short: 'D' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${PASSWD_USAGE}\n`);
    return 0;
  }
  const [file, user] = positionals;
  if (positionals.length !== 2 || file === undefined || user === undefined) {
    process.stderr.write(`${PASSWD_USAGE}\n`);
    return 2;
  }
  if (user === '' || user.includes(':') || /[\r\n]/.test(user))
    throw new TypeError(`user "${user}": a username must be non-empty, without ':' or line breaks`);
  const lines = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .filter((line) => line.trim() !== '')
    : [];
  parsePasswordFile(lines.join('\n'), file); // refuse to rewrite a malformed file
  const others = lines.filter((line) => line.trim().slice(0, line.trim().indexOf(':')) !== user || line.trim().startsWith('#'));
  if (values.D === true) {
    if (others.length === lines.length) throw new Error(`${file}: no user "${user}"`);
    writeAtomically(file, others);
    return 0;
  }
  const password = await readNewPassword(input, process.stderr);
  if (password === '') throw new Error('empty password (typed at the terminal, or the first line of stdin)');
  writeAtomically(file, [...others, `${user}:${await hashPassword(password)}`]);
  return 0;
}

function writeAtomically(file: string, lines: string[]): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, lines.length > 0 ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
