/**
 * The password hashes of a `shoal/passwd` file, each line's part after
 * `username:`, and their verification. Three schemes:
 *
 * - `$scrypt$N$salt$hash`: Shoal's own, written by `shoal passwd`
 *   (node:crypto scrypt, r 8, p 1, a random 16-byte salt, a 32-byte key).
 * - `$7$iterations$salt$hash`: mosquitto_passwd of Mosquitto 2.x
 *   (PBKDF2-HMAC-SHA512 of the password over the salt, 101 iterations by
 *   default, a 12-byte salt, a 64-byte hash).
 * - `$6$salt$hash`: mosquitto_passwd of Mosquitto 1.x (SHA-512 of the
 *   password followed by the salt, a 12-byte salt, a 64-byte hash).
 *
 * Salt and hash are base64. The Mosquitto formats follow its broker
 * (src/security_default.c, pw__digest; salt of 12 bytes, hash of 64, as it
 * checks when loading a file), so a Mosquitto password file keeps every
 * password. scrypt and PBKDF2 run off the thread (libuv pool); every hash is
 * compared in constant time. Runs wherever the plugin runs (every actor host)
 * and in the `shoal passwd` command.
 */
import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SCRYPT_KEY_BYTES = 32;
const SCRYPT_SALT_BYTES = 16;
const DEFAULT_SCRYPT_COST = 16384;
/** Salt and hash lengths of Mosquitto's `$6$` and `$7$` (password_mosq.h: SALT_LEN 12, a SHA-512 digest). */
const MOSQUITTO_SALT_BYTES = 12;
const MOSQUITTO_HASH_BYTES = 64;

export type PasswordHash =
  | { scheme: 'scrypt'; cost: number; salt: Buffer; hash: Buffer }
  | { scheme: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { scheme: 'sha512'; salt: Buffer; hash: Buffer };

/** A hash part that cannot be read; the message says what was expected. */
export class PasswordHashError extends Error {
  override name = 'PasswordHashError';
}

function scryptAsync(password: Buffer | string, salt: Buffer, cost: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, SCRYPT_KEY_BYTES, { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function pbkdf2Async(password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, MOSQUITTO_HASH_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A hash part for `password` in Shoal's scheme: `$scrypt$N$salt$hash`. */
export async function hashPassword(password: string, cost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = await scryptAsync(password, salt, cost);
  return `$scrypt$${cost}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (padded, no other characters), optionally of exactly `bytes` bytes. */
function base64(text: string, what: string, bytes?: number): Buffer {
  if (text === '' || !BASE64.test(text)) throw new PasswordHashError(`${what}: expected base64`);
  const decoded = Buffer.from(text, 'base64');
  if (bytes !== undefined && decoded.length !== bytes)
    throw new PasswordHashError(`${what}: expected ${bytes} bytes of base64, got ${decoded.length}`);
  return decoded;
}

const COUNT = /^[1-9][0-9]{0,9}$/;

/** Reads a hash part: `$scrypt$N$salt$hash`, `$7$iterations$salt$hash` or `$6$salt$hash`. */
export function parsePasswordHash(text: string): PasswordHash {
  const parts = text.split('$');
  if (parts[0] !== '' || parts.length < 2)
    throw new PasswordHashError('expected $scrypt$N$salt$hash, $7$iterations$salt$hash or $6$salt$hash');
  switch (parts[1]) {
    case 'scrypt': {
      const cost = COUNT.test(parts[2] ?? '') ? Number(parts[2]) : NaN;
      if (parts.length !== 5 || !(cost >= 2) || (cost & (cost - 1)) !== 0)
        throw new PasswordHashError('expected $scrypt$N$salt$hash, N a power of two');
      return { scheme: 'scrypt', cost, salt: base64(parts[3]!, '$scrypt$ salt'), hash: base64(parts[4]!, '$scrypt$ hash') };
    }
    case '7': {
      if (parts.length !== 5 || !COUNT.test(parts[2]!))
        throw new PasswordHashError('expected $7$iterations$salt$hash (mosquitto_passwd), iterations a whole number of at least 1');
      return {
        scheme: 'pbkdf2-sha512',
        iterations: Number(parts[2]),
        salt: base64(parts[3]!, '$7$ salt', MOSQUITTO_SALT_BYTES),
        hash: base64(parts[4]!, '$7$ hash', MOSQUITTO_HASH_BYTES),
      };
    }
    case '6': {
      if (parts.length !== 4) throw new PasswordHashError('expected $6$salt$hash (mosquitto_passwd of Mosquitto 1.x)');
      return {
        scheme: 'sha512',
        salt: base64(parts[2]!, '$6$ salt', MOSQUITTO_SALT_BYTES),
        hash: base64(parts[3]!, '$6$ hash', MOSQUITTO_HASH_BYTES),
      };
    }
    default:
      throw new PasswordHashError(`unknown hash scheme $${parts[1]}$ (expected $scrypt$, or mosquitto_passwd's $7$ or $6$)`);
  }
}

/** The hash of `password` under `entry`'s scheme and parameters. */
function digest(entry: PasswordHash, password: Buffer): Buffer | Promise<Buffer> {
  switch (entry.scheme) {
    case 'scrypt':
      return scryptAsync(password, entry.salt, entry.cost);
    case 'pbkdf2-sha512':
      return pbkdf2Async(password, entry.salt, entry.iterations);
    case 'sha512':
      return createHash('sha512').update(password).update(entry.salt).digest();
  }
}

/** Whether `password` is the one `entry` was made from. */
export async function verifyPassword(entry: PasswordHash, password: Buffer): Promise<boolean> {
  const hash = await digest(entry, password);
  return hash.length === entry.hash.length && timingSafeEqual(hash, entry.hash);
}
