/**
 * Persistence with the `shoal` command as a child process and a data
 * directory in a temporary directory: a retained message whose record was
 * committed survives a SIGKILL of the broker (its stale lock is taken over
 * at restart), a second broker on a directory in use exits with one line,
 * a corrupt record is skipped with one log line while the rest loads, and
 * a data directory that cannot be created makes the command fail with one
 * line. MQTT 3.1.1 and 5.0 clients over TCP.
 * The retained message's record is committed before its PUBACK leaves, so
 * another process sees it as soon as the client has the PUBACK.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POOL } from '../../src/shared/topic/topic.js';
import { retainedKey } from '../../src/main/store/lmdb-retained-store.js';
import { listeningPort, runCli, startCli, type CliRun } from '../helpers/cli.js';
import { closeAllClients, connectClient, expectNoMessage, nextMessage, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { openRetainedDb, tempDir } from './support.js';

function serve(dataDir: string): CliRun {
  return startCli(['--port', '0', '--workers', '0', '--log-level', 'info', '--data-dir', dataDir]);
}

/** SIGTERM (graceful close) and the exit. */
async function stop(run: CliRun): Promise<void> {
  run.child.kill('SIGTERM');
  assert.equal(await run.exited, 0);
}

for (const version of VERSIONS) {
  describe(`the shoal command with --data-dir (${label(version)})`, () => {
    test('[MQTT-3.3.1-5] a retained message is committed before its PUBACK, and survives a SIGKILL of the broker', async () => {
      const dir = tempDir();
      const topic = uniqueTopic('pk');
      let run = serve(dir);
      try {
        const port = await listeningPort(run);
        const pub = await connectClient(port, { version });
        await pub.publishAsync(topic, 'survives', { qos: 1, retain: true }); // resolves at PUBACK
        const reader = openRetainedDb(dir, true);
        try {
          assert.ok(reader.db.getBinary(retainedKey(DEFAULT_POOL, topic)) !== undefined, 'the record is committed when PUBACK arrives');
        } finally {
          await reader.close();
        }
        const busy = await runCli(['--port', '0', '--workers', '0', '--data-dir', dir]);
        assert.equal(busy.code, 1, 'a second broker on the directory exits non-zero');
        assert.match(
          busy.stderr,
          new RegExp(`^shoal: config\\.dataDir: the data directory .* is in use by another broker \\(pid ${run.child.pid} `),
        );
        assert.equal(busy.stderr.trim().split('\n').length, 1, `one line: ${busy.stderr}`);
        await closeAllClients();
      } finally {
        run.child.kill('SIGKILL');
        await run.exited;
      }

      run = serve(dir);
      try {
        const port = await listeningPort(run);
        assert.match(run.stdout(), /taking over the lock of a broker that is gone/);
        const sub = await connectClient(port, { version });
        await sub.subscribeAsync(topic, { qos: 1 });
        const m = await nextMessage(sub);
        assert.equal(m.payload.toString(), 'survives');
        assert.equal(m.packet.retain, true);
        await closeAllClients();
      } finally {
        await stop(run);
      }
    });
  });
}

describe('the shoal command with --data-dir: faults', () => {
  test('a corrupt retained record is skipped with one log line and the others load', async () => {
    const dir = tempDir();
    const base = uniqueTopic('pz');
    let run = serve(dir);
    try {
      const port = await listeningPort(run);
      const pub = await connectClient(port, { version: 5 });
      for (const leaf of ['bad', 'good1', 'good2']) await pub.publishAsync(`${base}/${leaf}`, leaf, { qos: 1, retain: true });
      await closeAllClients();
    } finally {
      await stop(run);
    }
    const rw = openRetainedDb(dir);
    await rw.db.put(retainedKey(DEFAULT_POOL, `${base}/bad`), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]));
    await rw.close();

    run = serve(dir);
    try {
      const port = await listeningPort(run);
      const skipped = run
        .stdout()
        .split('\n')
        .filter((l) => l.includes('skipped an unreadable record'));
      assert.equal(skipped.length, 1, run.stdout());
      assert.match(run.stdout(), /"loaded":2,"expired":0,"corrupt":1/);
      const sub = await connectClient(port, { version: 5 });
      await sub.subscribeAsync(`${base}/#`, { qos: 1 });
      const got = [await nextMessage(sub), await nextMessage(sub)].map((m) => m.payload.toString()).sort();
      assert.deepEqual(got, ['good1', 'good2']);
      await expectNoMessage(sub, 100);
      await closeAllClients();
    } finally {
      await stop(run);
    }
  });

  test('a data directory that cannot be created: one line on stderr and exit code 1', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const { code, stderr } = await runCli(['--port', '0', '--workers', '0', '--data-dir', join(file, 'data')]);
    assert.equal(code, 1);
    assert.match(stderr, /^shoal: config\.dataDir: cannot create the data directory .*a-file\/data: /);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
  });
});
