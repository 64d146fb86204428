/**
 * Joining a cluster from the command line: `--cluster` and `--node-id`
 * checked at start with one clear line naming what is wrong, and a NATS
 * that cannot be reached, or has no JetStream, stopping the start (exit 1)
 * before any listener accepts a client.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { natsSkip, startNats } from '../helpers/nats.js';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('cluster options of the shoal command', () => {
  test('a NATS that cannot be reached stops the start with one line naming the servers', async () => {
    const url = `nats://127.0.0.1:${await closedPort()}`;
    const { code, stderr } = await runCli(['--port', '0', '--in-memory', '--cluster', url, '--node-id', 'a']);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`cluster: cannot reach NATS at ${url}`));
  });

  test('--processes: node processes that cannot reach NATS stop them all (exit 1); without --cluster it is refused', async () => {
    const url = `nats://127.0.0.1:${await closedPort()}`;
    const failed = await runCli(['--processes', '2', '--port', '0', '--in-memory', '--cluster', url, '--node-id', 'p']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, new RegExp(`cluster: cannot reach NATS at ${url}`));
    const refused = await runCli(['--processes', '2', '--in-memory', '--check-config']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--processes: needs --cluster/);
  });

  test('a NATS without JetStream stops the start with one line saying so', { skip: natsSkip }, async () => {
    const nats = await startNats({ jetstream: false });
    try {
      const { code, stderr } = await runCli(['--port', '0', '--in-memory', '--cluster', nats.url, '--node-id', 'a']);
      assert.equal(code, 1);
      assert.match(stderr, /cluster: the key-value buckets could not be opened \(is JetStream on\? nats-server -js\)/);
    } finally {
      await nats.close();
    }
  });

  test('--node-id without --cluster, a node id that is no subject token, and --cluster without a node id are refused', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--node-id', 'a'], /--node-id: needs --cluster/],
      [['--cluster', 'nats://127.0.0.1:4222', '--node-id', 'a.b'], /config\.cluster\.nodeId: expected 1 to 64 letters, digits, _ or -/],
      [['--cluster', 'nats://127.0.0.1:4222'], /config\.cluster\.nodeId:/],
      [['--cluster', 'http://127.0.0.1:4222', '--node-id', 'a'], /config\.cluster\.servers\[0\]: expected a NATS URL/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(['--in-memory', '--check-config', ...args]);
      assert.equal(code, 1, args.join(' '));
      assert.match(stderr, message);
    }
  });
});
