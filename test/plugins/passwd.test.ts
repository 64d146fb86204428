/**
 * The bundled plugin shoal/passwd with a real broker (one worker host,
 * allowAnonymous false) and mqtt.js clients under MQTT 3.1.1 and 5.0: the
 * right password connects, a wrong one is CONNACK 4 / 0x86, an unknown user
 * passes on and is refused as anonymous; a file written by `shoal passwd`
 * (a child process) is accepted, and its later edits (add, -D delete) take
 * effect without dropping a connected client; a forced reload (what SIGHUP
 * broadcasts) picks up an edit the mtime check cannot see. Plus the
 * `{ module, options }` config validation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/api/config-schema.js';
import { hashPassword, parsePasswordFile } from '../../src/plugins/passwd.js';
import { broadcastReload } from '../../src/plugins/watched-file.js';
import { brokerForSuite, startBroker } from '../helpers/broker.js';
import { runCli } from '../helpers/cli.js';
import { connectClient, VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { connackCode, eventually, replaceFile, tempDir } from './support.js';

const tmp = tempDir('passwd');
const FILE = join(tmp.dir, 'passwd');

describe('shoal/passwd', () => {
  before(async () => {
    replaceFile(FILE, `# users\nalice:${await hashPassword('wonderland')}\nbob:${await hashPassword('builder')}\n`);
  });
  const b = brokerForSuite({ allowAnonymous: false, plugins: [{ module: 'shoal/passwd', options: { file: FILE } }] });
  after(() => tmp.remove());

  for (const version of VERSIONS) {
    const refusedCredentials = version === 5 ? 0x86 : 4;

    test(`${label(version)}: the right password connects`, async () => {
      assert.equal(await connackCode(b.port, { version, username: 'alice', password: 'wonderland' }), 0);
      assert.equal(await connackCode(b.port, { version, username: 'bob', password: 'builder' }), 0);
    });

    test(`${label(version)}: a wrong or missing password is refused as bad credentials`, async () => {
      assert.equal(await connackCode(b.port, { version, username: 'alice', password: 'builder' }), refusedCredentials);
      assert.equal(await connackCode(b.port, { version, username: 'alice' }), refusedCredentials);
    });

    test(`${label(version)}: an unknown user passes on ('next'), so allowAnonymous false refuses it; no username too`, async () => {
      assert.notEqual(await connackCode(b.port, { version, username: 'mallory', password: 'wonderland' }), 0);
      assert.notEqual(await connackCode(b.port, { version }), 0);
    });
  }

  test('`shoal passwd` adds a user to the live file: accepted within the reload bound; a connected client stays; -D removes the user', async () => {
    const alice = await connectClient(b.port, { version: 5, username: 'alice', password: 'wonderland' });
    let closed = false;
    alice.on('close', () => {
      closed = true;
    });
    assert.notEqual(await connackCode(b.port, { version: 4, username: 'carol', password: 'c4rol' }), 0);

    const added = await runCli(['passwd', FILE, 'carol'], 'c4rol\n');
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual([...parsePasswordFile(readFileSync(FILE, 'utf8')).keys()].sort(), ['alice', 'bob', 'carol']);
    for (const version of VERSIONS) {
      await eventually(
        `carol accepted (${label(version)})`,
        async () => (await connackCode(b.port, { version, username: 'carol', password: 'c4rol' })) === 0,
      );
    }
    assert.equal(await connackCode(b.port, { version: 4, username: 'carol', password: 'wrong' }), 4);

    const removed = await runCli(['passwd', '-D', FILE, 'carol'], '');
    assert.equal(removed.code, 0, removed.stderr);
    await eventually(
      'carol refused after -D',
      async () => (await connackCode(b.port, { version: 5, username: 'carol', password: 'c4rol' })) !== 0,
    );
    assert.equal(await connackCode(b.port, { version: 5, username: 'bob', password: 'builder' }), 0);

    assert.equal(closed, false, 'the connected client was not dropped');
    assert.equal(alice.connected, true);
    await alice.publishAsync('passwd/still-here', 'yes', { qos: 1 });
  });

  test('a forced reload (what SIGHUP to the shoal process broadcasts) re-reads a file whose mtime, size and inode did not change', async () => {
    const T = 1_700_000_000; // a whole second: utimes restores it exactly
    const edit = (from: string, to: string): void => {
      const text = readFileSync(FILE, 'utf8');
      assert.ok(text.includes(`\n${from}:`));
      writeFileSync(FILE, text.replace(`\n${from}:`, `\n${to}:`)); // in place: same inode, same size
      utimesSync(FILE, T, T);
      assert.equal(statSync(FILE).mtimeMs, T * 1000);
    };
    edit('bob', 'bib'); // a new mtime: seen by the mtime check, no broadcast needed (none left pending either)
    await eventually('bib accepted', async () => (await connackCode(b.port, { version: 4, username: 'bib', password: 'builder' })) === 0);
    // Back again, invisible to the mtime check: the loaded file stays in force...
    edit('bib', 'bob');
    assert.equal(
      await connackCode(b.port, { version: 5, username: 'bib', password: 'builder' }),
      0,
      'not reloaded without a forced reload',
    );
    // ...until a forced reload.
    broadcastReload();
    await eventually(
      'bob accepted after the forced reload',
      async () => (await connackCode(b.port, { version: 4, username: 'bob', password: 'builder' })) === 0,
    );
    assert.notEqual(await connackCode(b.port, { version: 5, username: 'bib', password: 'builder' }), 0);
  });
});

describe('shoal passwd (CLI) and a fresh broker', () => {
  const dir = tempDir('passwd-cli');
  after(() => dir.remove());

  test('a file created by `shoal passwd` is accepted by a broker with workers 0 and 2', async () => {
    const file = join(dir.dir, 'created');
    const run = await runCli(['passwd', file, 'dave'], 'd4ve-secret\n');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /^dave:\$scrypt\$\d+\$[^$]+\$[^$]+\n$/);
    for (const workers of [0, 2]) {
      const b = await startBroker({ workers, allowAnonymous: false, plugins: [{ module: 'shoal/passwd', options: { file } }] });
      try {
        for (const version of VERSIONS) {
          assert.equal(await connackCode(b.port, { version, username: 'dave', password: 'd4ve-secret' }), 0);
          assert.equal(await connackCode(b.port, { version, username: 'dave', password: 'nope' }), version === 5 ? 0x86 : 4);
        }
      } finally {
        await b.close();
      }
    }
  });

  test('`shoal passwd` refuses a bad username and a missing user to delete', async () => {
    const file = join(dir.dir, 'bad');
    assert.notEqual((await runCli(['passwd', file, 'a:b'], 'x\n')).code, 0);
    assert.notEqual((await runCli(['passwd', '-D', file, 'nobody'], '')).code, 0);
    assert.notEqual((await runCli(['passwd', file], 'x\n')).code, 0);
  });

  test('a missing file, or no options.file, makes listen() fail', async () => {
    await assert.rejects(
      startBroker({ workers: 0, plugins: [{ module: 'shoal/passwd', options: { file: join(dir.dir, 'missing') } }] }),
      /ENOENT/,
    );
    await assert.rejects(startBroker({ workers: 0, plugins: ['shoal/passwd'] }), /options\.file/);
  });
});

describe('config.plugins entries', () => {
  test('strings and { module, options } are accepted; a bad entry is named', () => {
    assert.doesNotThrow(() => resolveConfig({ plugins: ['./a.js', { module: 'shoal/acl', options: { file: 'x' } }, { module: 'pkg' }] }));
    assert.throws(() => resolveConfig({ plugins: [{ module: '' }] as never }), /config\.plugins\[0\]\.module/);
    assert.throws(() => resolveConfig({ plugins: ['ok', { module: 'm', options: 3 }] as never }), /config\.plugins\[1\]\.options/);
    assert.throws(() => resolveConfig({ plugins: ['ok', 7] as never }), /config\.plugins\[1\]/);
    assert.throws(() => resolveConfig({ plugins: 'x' as never }), /config\.plugins/);
  });
});
