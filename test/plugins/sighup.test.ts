/**
 * SIGHUP to the `shoal` process (a child process, two worker hosts) makes
 * the bundled plugins re-read their files in every worker, even an edit the
 * mtime check cannot see (same size, inode and mtime), without dropping a
 * connected client, and without stopping the broker.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../src/plugins/passwd.js';
import { listeningPort, startCli } from '../helpers/cli.js';
import { closeAllClients, connectClient, VERSIONS } from '../helpers/clients.js';
import { connackCode, eventually, replaceFile, tempDir } from './support.js';

describe('SIGHUP', () => {
  const tmp = tempDir('sighup');
  after(async () => {
    await closeAllClients();
    tmp.remove();
  });

  test('reloads shoal/passwd in every worker host; connections and the process stay', async () => {
    const file = join(tmp.dir, 'passwd');
    const config = join(tmp.dir, 'config.json');
    const T = 1_700_000_000;
    replaceFile(file, `alice:${await hashPassword('wonderland')}\nbob:${await hashPassword('builder')}\n`);
    utimesSync(file, T, T);
    writeFileSync(config, JSON.stringify({ allowAnonymous: false, plugins: [{ module: 'shoal/passwd', options: { file } }] }));
    const r = startCli(['--port', '0', '--workers', '2', '--log-level', 'info', '--in-memory', '--config', config]);
    try {
      const port = await listeningPort(r);
      await eventually(
        'alice accepted',
        async () => (await connackCode(port, { version: 4, username: 'alice', password: 'wonderland' })) === 0,
        15_000,
      );
      const alice = await connectClient(port, { version: 5, username: 'alice', password: 'wonderland' });
      let closed = false;
      alice.on('close', () => {
        closed = true;
      });
      // bob → bib in place: same size, inode and mtime, so only a forced reload sees it.
      writeFileSync(file, readFileSync(file, 'utf8').replace('\nbob:', '\nbib:'));
      utimesSync(file, T, T);
      assert.equal(statSync(file).mtimeMs, T * 1000);
      r.child.kill('SIGHUP');
      // Client ids spread the CONNECTs over both worker hosts.
      for (let i = 0; i < 8; i++) {
        for (const version of VERSIONS) {
          await eventually(
            `bib accepted (${i})`,
            async () => (await connackCode(port, { version, username: 'bib', password: 'builder' })) === 0,
          );
        }
      }
      assert.equal(await connackCode(port, { version: 4, username: 'bob', password: 'builder' }), 5);
      assert.equal(closed, false, 'the connected client was not dropped');
      await alice.publishAsync('sighup/still-here', 'yes', { qos: 1 });
      assert.equal(r.child.exitCode, null, 'still running');
      r.child.kill('SIGTERM');
      assert.equal(await r.exited, 0);
    } finally {
      r.child.kill('SIGKILL');
    }
  });
});
