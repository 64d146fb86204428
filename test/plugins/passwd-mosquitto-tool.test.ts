/**
 * shoal/passwd serving a password file written by the real mosquitto_passwd
 * (Debian's `mosquitto` package; CI installs it): a file created with
 * `-c -b`, a user appended with `-b` (a password with a space, a colon and
 * non-ASCII letters), one appended with `-H sha512` (Mosquitto 1.x's `$6$`),
 * each logging in with mqtt.js under MQTT 3.1.1 and 5.0 with their password
 * and refused with another (5.0 CONNACK 0x86, 3.1.1 return code 4).
 * Outside CI the suite is skipped when the tool is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { skipWithout } from '../helpers/ci.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { connackCode, tempDir } from './support.js';

const USERS = [
  { username: 'alice', password: 'wonderland', args: ['-c'] },
  { username: 'bob', password: 'bü1lder: yes', args: [] },
  { username: 'carol', password: 'old-scheme', args: ['-H', 'sha512'] },
] as const;

const missing = skipWithout('mosquitto_passwd', ['-h'], 'apt-get install mosquitto');

describe("shoal/passwd serving a file written by Debian's mosquitto_passwd", { skip: missing }, () => {
  const tmp = tempDir('passwd-tool');
  const file = join(tmp.dir, 'pwfile');
  before(() => {
    for (const { username, password, args } of USERS) {
      execFileSync('mosquitto_passwd', [...args, '-b', file, username, password], { timeout: 10_000, stdio: 'pipe' });
    }
  });
  const b = brokerForSuite({ allowAnonymous: false, plugins: [{ module: 'shoal/passwd', options: { file } }] });
  after(() => tmp.remove());

  test('mosquitto_passwd wrote one line per user, in the schemes asked for', () => {
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^alice:\$7\$\d+\$/m, 'Mosquitto 2 default: PBKDF2-SHA512');
    assert.match(text, /^bob:\$7\$\d+\$/m);
    assert.match(text, /^carol:\$6\$/m, '-H sha512');
  });

  for (const version of VERSIONS) {
    test(`${label(version)}: each user connects with the password mosquitto_passwd hashed, and is refused with another`, async () => {
      const refused = version === 5 ? 0x86 : 4;
      for (const { username, password } of USERS) {
        assert.equal(await connackCode(b.port, { version, username, password }), 0, username);
        assert.equal(await connackCode(b.port, { version, username, password: `${password}!` }), refused, `${username}, wrong password`);
      }
      assert.equal(
        await connackCode(b.port, { version, username: 'mallory', password: 'wonderland' }),
        version === 5 ? 0x87 : 5,
        'unknown user, no anonymous',
      );
    });
  }
});
