/**
 * A full disk: the `shoal` command runs with a file size limit
 * (RLIMIT_FSIZE, as a full file system would stop its writes), and a
 * client publishes retained QoS 1 messages until the store cannot take
 * them. The message the broker could not store is not acknowledged as
 * kept: a 5.0 client gets PUBACK 0x97 (Quota exceeded), a 3.1.1 client
 * (which has no refusal) has its connection closed without PUBACK; the
 * broker logs it, does not crash, and keeps serving other clients.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { listeningPort, startCli } from '../helpers/cli.js';
import { closeAllClients, connectClient, once, roundTrip, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { tempDir } from './support.js';
import { waitUntil } from '../helpers/wait.js';

/** The file size limit: well above a fresh data directory, reached after a few messages. */
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const PAYLOAD = Buffer.alloc(128 * 1024, 0x61);
/** More than enough publishes to pass the limit. */
const ATTEMPTS = 64;

for (const version of VERSIONS) {
  describe(`a full disk (${label(version)})`, () => {
    test(`a QoS 1 publish the store cannot keep is not acknowledged as kept${version === 5 ? ' (PUBACK 0x97)' : ' (connection closed)'}; the broker keeps serving`, async () => {
      const run = startCli(['--port', '0', '--workers', '0', '--log-level', 'info', '--data-dir', tempDir()], {
        maxFileBytes: MAX_FILE_BYTES,
      });
      try {
        const port = await listeningPort(run);
        const topic = uniqueTopic('full');
        const pub = await connectClient(port, { version });
        const closed = once(pub, 'close', 30_000);
        let refusal: string | undefined;
        let acknowledged = 0;
        for (let i = 0; i < ATTEMPTS && refusal === undefined; i++) {
          const published = pub.publishAsync(`${topic}/${i}`, PAYLOAD, { qos: 1, retain: true }).then(
            () => undefined,
            (err: Error) => err.message,
          );
          const outcome = await Promise.race([published, closed.then(() => 'connection closed')]);
          if (outcome === undefined) acknowledged++;
          else refusal = outcome;
        }
        assert.ok(acknowledged > 0, 'messages were stored before the limit');
        assert.equal(refusal, version === 5 ? 'Publish error: Quota exceeded' : 'connection closed');
        await waitUntil(() => /a publish could not be stored; refusing it/.test(run.stdout()), 'the log line of the refusal');
        pub.end(true);

        const other = await connectClient(port, { version });
        await roundTrip(other);
        assert.equal(run.child.exitCode, null, 'the broker is still running');
      } finally {
        await closeAllClients();
        run.child.kill('SIGKILL');
        await run.exited;
      }
    });
  });
}
