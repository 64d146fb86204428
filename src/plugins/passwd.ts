/**
 * Bundled plugin `shoal/passwd` (as vmq_passwd / mosquitto_passwd):
 * auth_on_register(_m5) against a password file.
 *
 *   plugins: [{ module: 'shoal/passwd', options: { file: './passwd' } }]
 *
 * The file has one `username:hash` line per user: Shoal's
 * `$scrypt$N$salt$hash` (written by `shoal passwd FILE USER`), or
 * mosquitto_passwd's `$7$iterations$salt$hash` and `$6$salt$hash`, so a
 * Mosquitto password file serves as it is (password-hash.ts); empty lines
 * and lines starting with '#' are skipped. A known user with the right
 * password is 'ok', with a wrong one (or none) `{ error: 'invalid_credentials' }`;
 * an unknown user, or no username, is 'next', so later plugins (or
 * `allowAnonymous`) decide. The hash is computed off the thread for scrypt
 * and PBKDF2 and compared in constant time.
 *
 * Options: `file` (required); `cacheMaxEntries` (default 10000 usernames;
 * 0 = no cache) and `cacheTtlMs` (default 300000 ms): a successful check is
 * remembered that long for that many users, so the same username and
 * password again skip the hash (check-cache.ts). Reading the file again
 * clears it.
 *
 * Reload: the file is re-read when it changes (checked at most once per
 * second, on a CONNECT) or on SIGHUP to the `shoal` process; see
 * watched-file.ts. Connected clients stay connected. Runs in every actor host.
 */
import type { Plugin, PluginContext, RegisterModifiers } from '../api/hooks.js';
import type { HookReturn } from '../shared/hooks/chain.js';
import { CheckCache } from './check-cache.js';
import { parsePasswordHash, PasswordHashError, verifyPassword, type PasswordHash } from './password-hash.js';
import { fileOption, WatchedFile } from './watched-file.js';

export { hashPassword } from './password-hash.js';

/** Defaults of the cache options: usernames remembered, and for how long (ms). */
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_CACHE_TTL_MS = 300_000;

/** Parses a password file into username → hash; throws on a malformed line, naming the file and line. */
export function parsePasswordFile(text: string, file = 'password file'): Map<string, PasswordHash> {
  const users = new Map<string, PasswordHash>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    try {
      if (colon <= 0) throw new PasswordHashError('expected username:hash');
      users.set(line.slice(0, colon), parsePasswordHash(line.slice(colon + 1)));
    } catch (err) {
      if (!(err instanceof PasswordHashError)) throw err;
      throw new SyntaxError(`${file}:${i + 1}: ${err.message}`, { cause: err });
    }
  });
  return users;
}

/** A whole-number option of this plugin, `min` or more; throws naming it. */
function wholeNumberOption(options: Readonly<Record<string, unknown>>, name: string, fallback: number, min: number, unit: string): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `shoal/passwd: options.${name}: expected a whole number of ${unit}, at least ${min}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export default function createPasswdPlugin({ options, log }: PluginContext): Plugin {
  const file = fileOption(options, 'shoal/passwd');
  const cache = new CheckCache<PasswordHash>(
    wholeNumberOption(options, 'cacheMaxEntries', DEFAULT_CACHE_MAX_ENTRIES, 0, 'usernames (0 = no cache)'),
    wholeNumberOption(options, 'cacheTtlMs', DEFAULT_CACHE_TTL_MS, 1, 'milliseconds'),
  );
  const users = new WatchedFile(
    file,
    (text) => {
      const parsed = parsePasswordFile(text, file);
      cache.clear();
      return parsed;
    },
    log,
  );
  const check = (
    username: string | undefined,
    password: Buffer | undefined,
  ): HookReturn<RegisterModifiers> | Promise<HookReturn<RegisterModifiers>> => {
    if (username === undefined) return 'next';
    const entry = users.current().get(username);
    if (entry === undefined) return 'next';
    if (password === undefined) return { error: 'invalid_credentials' };
    const given = Buffer.from(password);
    if (cache.has(username, given, entry)) return 'ok';
    return verifyPassword(entry, given).then((ok) => {
      if (!ok) return { error: 'invalid_credentials' };
      cache.remember(username, given, entry);
      return 'ok';
    });
  };
  return {
    name: 'shoal/passwd',
    auth_on_register: (_peer, _sid, username, password) => check(username, password),
    auth_on_register_m5: (_peer, _sid, username, password) => check(username, password),
  };
}
