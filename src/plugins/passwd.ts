/**
 * Bundled plugin `shoal/passwd` (as vmq_passwd / mosquitto_passwd):
 * auth_on_register(_m5) against a password file.
 *
 *   plugins: [{ module: 'shoal/passwd', options: { file: './passwd' } }]
 *
 * The file has one `username:$scrypt$N$salt$hash` line per user (salt and
 * hash in base64; node:crypto scrypt, r 8, p 1, a random 16-byte salt, a
 * 32-byte key), written by `shoal passwd FILE USER`; empty lines and lines
 * starting with '#' are skipped. A known user with the right password is
 * 'ok', with a wrong one (or none) `{ error: 'invalid_credentials' }`; an
 * unknown user, or no username, is 'next', so later plugins (or
 * `allowAnonymous`) decide. The hash is computed off the thread (async scrypt)
 * and compared in constant time.
 *
 * Reload: the file is re-read when it changes (checked at most once per
 * second, on a CONNECT) or on SIGHUP to the `shoal` process; see
 * watched-file.ts. Connected clients stay connected. Runs in every actor host.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Plugin, PluginContext, RegisterModifiers } from '../api/hooks.js';
import type { HookReturn } from '../shared/hooks/chain.js';
import { fileOption, WatchedFile } from './watched-file.js';

const KEY_LENGTH = 32;
const DEFAULT_COST = 16384;

export interface PasswordEntry {
  cost: number;
  salt: Buffer;
  hash: Buffer;
}

function scryptAsync(password: Buffer | string, salt: Buffer, cost: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A password line's hash part, `$scrypt$N$salt$hash`, for `password`. */
export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, cost);
  return `$scrypt$${cost}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Parses a password file into username → entry; throws on a malformed line, naming it. */
export function parsePasswordFile(text: string, file = 'password file'): Map<string, PasswordEntry> {
  const users = new Map<string, PasswordEntry>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const parts = colon > 0 ? line.slice(colon + 1).split('$') : [];
    // ['', 'scrypt', N, salt, hash]
    const cost = Number(parts[2]);
    if (
      parts.length !== 5 ||
      parts[0] !== '' ||
      parts[1] !== 'scrypt' ||
      !Number.isInteger(cost) ||
      cost < 2 ||
      (cost & (cost - 1)) !== 0
    ) {
      throw new SyntaxError(`${file}:${i + 1}: expected username:$scrypt$N$salt$hash`);
    }
    users.set(line.slice(0, colon), { cost, salt: Buffer.from(parts[3]!, 'base64'), hash: Buffer.from(parts[4]!, 'base64') });
  });
  return users;
}

/** Whether `password` is the one of `entry`. */
async function verifyPassword(entry: PasswordEntry, password: Buffer): Promise<boolean> {
  const hash = await scryptAsync(password, entry.salt, entry.cost);
  return hash.length === entry.hash.length && timingSafeEqual(hash, entry.hash);
}

export default function createPasswdPlugin({ options, log }: PluginContext): Plugin {
  const file = fileOption(options, 'shoal/passwd');
  const users = new WatchedFile(file, (text) => parsePasswordFile(text, file), log);
  const check = (
    username: string | undefined,
    password: Buffer | undefined,
  ): HookReturn<RegisterModifiers> | Promise<HookReturn<RegisterModifiers>> => {
    if (username === undefined) return 'next';
    const entry = users.current().get(username);
    if (entry === undefined) return 'next';
    if (password === undefined) return { error: 'invalid_credentials' };
    return verifyPassword(entry, Buffer.from(password)).then((ok) => (ok ? 'ok' : { error: 'invalid_credentials' }));
  };
  return {
    name: 'shoal/passwd',
    auth_on_register: (_peer, _sid, username, password) => check(username, password),
    auth_on_register_m5: (_peer, _sid, username, password) => check(username, password),
  };
}
