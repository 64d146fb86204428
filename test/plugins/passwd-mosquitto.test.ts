/**
 * shoal/passwd reading mosquitto_passwd files: `$7$` (PBKDF2-SHA512, Mosquitto
 * 2.x) and `$6$` (SHA-512 of password and salt, Mosquitto 1.x) beside
 * Shoal's `$scrypt$`. Lines taken from Mosquitto's own tests with their known
 * passwords (so the check is not our code agreeing with itself), and lines
 * made here exactly as Mosquitto's pw__digest computes them, with other
 * iteration counts; a real broker serving them to mqtt.js and to
 * mosquitto_pub; malformed lines named by file and line. Then the cache of
 * successful checks: bounded by entries and time, keyed by an HMAC, cleared
 * when the file is read again, and its options validated.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import createPasswdPlugin, { parsePasswordFile } from '../../src/plugins/passwd.js';
import { CheckCache } from '../../src/plugins/check-cache.js';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/plugins/password-hash.js';
import { createLogger } from '../../src/shared/log.js';
import type { Plugin, PluginContext } from '../../src/api/hooks.js';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { mosquittoAvailable, mosquittoPub } from '../helpers/mosquitto.js';
import { label } from '../helpers/spec.js';
import { connackCode, eventually, replaceFile, tempDir } from './support.js';

/**
 * eclipse/mosquitto test/broker/dynamic-security-init.json: the user "admin"
 * with password "admin" (test/broker/14-dynsec-auth.py logs in with it),
 * PBKDF2-SHA512 over a 12-byte salt, 101 iterations: the `$7$` hash, here
 * in its password-file form.
 */
const MOSQUITTO_7 =
  'admin:$7$101$Ezuo4G1TqYtTQDL/$Rko31yHY12ryMoyZTBNIUsCPb5SDa4WmUP3Xe2+V6P+QOSW3Gj6IDmpl6zQsAjutb476zEYdBeTw9tU7WZ1new==';
/** eclipse/mosquitto test/broker/01-connect-uname-or-anon.pwfile: "user", password "password" (01-connect-uname-or-anon.py). */
const MOSQUITTO_6 = 'user:$6$Ut1cUS9PG8+gC3vn$tOjCfSJJDe1Alu9HktxxyyzwN4+6mAMSWGRAF9gmMN8pzcGTPVEYYMAZpCEp96Oz2ZRRz5YKM6lPMf1tUbb6zA==';

/** A `$7$` hash part as mosquitto_passwd writes it: PKCS5_PBKDF2_HMAC(password, salt 12 bytes, iterations, sha512, 64 bytes). */
function mosquitto7(password: string, iterations = 101): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** A `$6$` hash part as mosquitto_passwd 1.x writes it: SHA-512 of the password then the 12-byte salt. */
function mosquitto6(password: string): string {
  const salt = randomBytes(12);
  const hash = createHash('sha512').update(password).update(salt).digest();
  return `$6$${salt.toString('base64')}$${hash.toString('base64')}`;
}

const silent = createLogger('silent', 'test');

/** What an actor host hands the plugin's factory (the plugin never disconnects anyone). */
function context(options: Record<string, unknown>): PluginContext {
  return { hostIndex: 0, log: silent, options, disconnectClient: async () => false };
}

describe('mosquitto_passwd hashes', () => {
  test("Mosquitto's own test lines verify with their known passwords, and refuse others", async () => {
    const users = parsePasswordFile(`${MOSQUITTO_7}\n${MOSQUITTO_6}\n`);
    assert.equal(users.get('admin')?.scheme, 'pbkdf2-sha512');
    assert.equal(users.get('user')?.scheme, 'sha512');
    assert.equal(await verifyPassword(users.get('admin')!, Buffer.from('admin')), true);
    assert.equal(await verifyPassword(users.get('admin')!, Buffer.from('admin2')), false);
    assert.equal(await verifyPassword(users.get('user')!, Buffer.from('password')), true);
    assert.equal(await verifyPassword(users.get('user')!, Buffer.from('password9')), false);
  });

  test('lines made as mosquitto_passwd makes them verify, at any iteration count; a UTF-8 password too', async () => {
    for (const [hash, password] of [
      [mosquitto7('pbkdf2-default'), 'pbkdf2-default'],
      [mosquitto7('many rounds', 1000), 'many rounds'],
      [mosquitto7('one', 1), 'one'],
      [mosquitto6('sha-ünïcødé'), 'sha-ünïcødé'],
      [await hashPassword('scrypt-too', 1024), 'scrypt-too'],
    ] as const) {
      const entry = parsePasswordHash(hash);
      assert.equal(await verifyPassword(entry, Buffer.from(password)), true, hash);
      assert.equal(await verifyPassword(entry, Buffer.from(`${password}x`)), false, hash);
    }
  });

  test('a malformed line is refused with the file and line named', () => {
    const salt = randomBytes(12).toString('base64');
    const hash = randomBytes(64).toString('base64');
    const bad: Array<[string, RegExp]> = [
      [`u:$7$0$${salt}$${hash}`, /iterations/],
      [`u:$7$x$${salt}$${hash}`, /iterations/],
      [`u:$7$101$${randomBytes(16).toString('base64')}$${hash}`, /\$7\$ salt: expected 12 bytes/],
      [`u:$7$101$${salt}$${randomBytes(32).toString('base64')}`, /\$7\$ hash: expected 64 bytes/],
      [`u:$7$101$${salt}`, /\$7\$iterations\$salt\$hash/],
      [`u:$6$${salt}$not*base64`, /\$6\$ hash: expected base64/],
      [`u:$6$101$${salt}$${hash}`, /\$6\$salt\$hash/],
      [`u:$argon2id$v=19$m=65536,t=3,p=1$${salt}$${hash}`, /unknown hash scheme \$argon2id\$/],
      ['u:plaintext', /expected \$scrypt\$/],
      ['no-colon', /username:hash/],
      ['u:$scrypt$1000$c2FsdA==$aGFzaA==', /power of two/],
    ];
    for (const [line, message] of bad) {
      assert.throws(
        () => parsePasswordFile(`# header\n${MOSQUITTO_6}\n${line}\n`, '/etc/shoal/passwd'),
        (err: Error) => err instanceof SyntaxError && err.message.startsWith('/etc/shoal/passwd:3: ') && message.test(err.message),
        line,
      );
    }
  });
});

describe('shoal/passwd serving a Mosquitto password file', () => {
  const tmp = tempDir('passwd-mosquitto');
  const file = join(tmp.dir, 'pwfile');
  before(async () => {
    replaceFile(
      file,
      `# as mosquitto_passwd wrote it\n${MOSQUITTO_7}\n${MOSQUITTO_6}\n` +
        `pbkdf:${mosquitto7('pbkdf-pass', 500)}\nsha:${mosquitto6('sha-pass')}\nshoal:${await hashPassword('scrypt-pass')}\n`,
    );
  });
  const b = brokerForSuite({ allowAnonymous: false, plugins: [{ module: 'shoal/passwd', options: { file } }] });
  after(() => tmp.remove());

  for (const version of VERSIONS) {
    test(`${label(version)}: every scheme's user connects with their password, and not with another`, async () => {
      const refused = version === 5 ? 0x86 : 4;
      for (const [username, password] of [
        ['admin', 'admin'],
        ['user', 'password'],
        ['pbkdf', 'pbkdf-pass'],
        ['sha', 'sha-pass'],
        ['shoal', 'scrypt-pass'],
      ] as const) {
        assert.equal(await connackCode(b.port, { version, username, password }), 0, username);
        assert.equal(await connackCode(b.port, { version, username, password: 'password9' }), refused, `${username}, wrong password`);
        // A second time: answered from the cache of successful checks.
        assert.equal(await connackCode(b.port, { version, username, password }), 0, `${username} again`);
      }
    });
  }

  const noTools = mosquittoAvailable() || process.env['CI'] ? false : 'mosquitto_pub not installed (apt-get install mosquitto-clients)';
  test('mosquitto_pub with -u/-P logs in as before the migration; a wrong password is refused', { skip: noTools }, async () => {
    const ok = await mosquittoPub({ port: b.port, topic: 'migrated/ok', message: 'hi', qos: 1, username: 'admin', password: 'admin' });
    assert.equal(ok.code, 0, ok.stderr);
    const wrong = await mosquittoPub({ port: b.port, topic: 'migrated/no', message: 'hi', username: 'user', password: 'wrong' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr + wrong.stdout, /not authori[sz]ed|bad user name or password/i);
  });
});

describe('the cache of successful checks', () => {
  test('remembers a check for its time bound, only for the same password and file entry, the most recent ones first', () => {
    let now = 1_000;
    const cache = new CheckCache<object>(2, 500, () => now);
    const entry = {};
    cache.remember('alice', Buffer.from('a-pass'), entry);
    assert.equal(cache.has('alice', Buffer.from('a-pass'), entry), true);
    assert.equal(cache.has('alice', Buffer.from('b-pass'), entry), false, 'another password');
    assert.equal(cache.has('alice', Buffer.from('a-pass'), {}), false, 'another file entry (a reloaded file) forgets it');
    assert.equal(cache.size, 0);

    cache.remember('alice', Buffer.from('a-pass'), entry);
    now += 499;
    assert.equal(cache.has('alice', Buffer.from('a-pass'), entry), true);
    now += 1;
    assert.equal(cache.has('alice', Buffer.from('a-pass'), entry), false, 'expired after cacheTtlMs');

    cache.remember('a', Buffer.from('1'), entry);
    cache.remember('b', Buffer.from('2'), entry);
    assert.equal(cache.has('a', Buffer.from('1'), entry), true); // a is now the most recently used
    cache.remember('c', Buffer.from('3'), entry);
    assert.equal(cache.size, 2);
    assert.equal(cache.has('b', Buffer.from('2'), entry), false, 'the least recently used went');
    assert.equal(cache.has('a', Buffer.from('1'), entry), true);
    assert.equal(cache.has('c', Buffer.from('3'), entry), true);
    cache.clear();
    assert.equal(cache.size, 0);

    const off = new CheckCache<object>(0, 500, () => now);
    off.remember('a', Buffer.from('1'), entry);
    assert.equal(off.has('a', Buffer.from('1'), entry), false, 'cacheMaxEntries 0: no cache');
  });

  describe('in the plugin', () => {
    const tmp = tempDir('passwd-cache');
    after(() => tmp.remove());

    const register = (plugin: Plugin, username: string, password: string): unknown =>
      plugin.auth_on_register!({ address: '127.0.0.1', port: 1 }, { mountpoint: '', clientId: 'c' }, username, Buffer.from(password), true);

    test('answers a repeated successful check at once, not a wrong one; forgets everything when the file changes', async () => {
      const file = join(tmp.dir, 'cached');
      replaceFile(file, `alice:${mosquitto7('first')}\n`);
      const plugin = createPasswdPlugin(context({ file }));
      const first = register(plugin, 'alice', 'first');
      assert.ok(first instanceof Promise, 'the first check hashes');
      assert.equal(await first, 'ok');
      assert.equal(register(plugin, 'alice', 'first'), 'ok', 'remembered: answered synchronously');
      const wrong = register(plugin, 'alice', 'second');
      assert.ok(wrong instanceof Promise, 'a wrong password is hashed');
      assert.deepEqual(await wrong, { error: 'invalid_credentials' });

      replaceFile(file, `alice:${mosquitto6('second')}\n# a new password\n`);
      await eventually('the changed file read again', async () => register(plugin, 'alice', 'first') instanceof Promise);
      assert.deepEqual(await register(plugin, 'alice', 'first'), { error: 'invalid_credentials' }, 'the old password is refused');
      assert.equal(await register(plugin, 'alice', 'second'), 'ok');
      assert.equal(register(plugin, 'alice', 'second'), 'ok');
    });

    test('cacheMaxEntries 0 hashes every time; bad cache options are refused, naming the option', async () => {
      const file = join(tmp.dir, 'options');
      replaceFile(file, `bob:${mosquitto7('b')}\n`);
      const plugin = createPasswdPlugin(context({ file, cacheMaxEntries: 0 }));
      assert.equal(await register(plugin, 'bob', 'b'), 'ok');
      assert.ok(register(plugin, 'bob', 'b') instanceof Promise);
      for (const [options, name] of [
        [{ cacheMaxEntries: -1 }, 'cacheMaxEntries'],
        [{ cacheMaxEntries: 1.5 }, 'cacheMaxEntries'],
        [{ cacheTtlMs: 0 }, 'cacheTtlMs'],
        [{ cacheTtlMs: '60s' }, 'cacheTtlMs'],
      ] as const) {
        assert.throws(
          () => createPasswdPlugin(context({ file, ...options })),
          new RegExp(`shoal/passwd: options\\.${name}: expected a whole number`),
        );
      }
    });
  });
});
