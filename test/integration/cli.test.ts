/**
 * Integration: the `shoal` command as a user runs it — `--help`, a config
 * field error naming the field, and a broker started from the CLI that
 * serves MQTT and stops gracefully on SIGTERM and SIGINT (5.0 clients get
 * DISCONNECT 0x8B, the process exits 0).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { listeningPort, startCli } from '../helpers/cli.js';
import { connectClient, nextMessage, once, uniqueId, uniqueTopic } from '../helpers/clients.js';

const BOUND_MS = 15_000;

describe('shoal CLI', () => {
  test('--help prints the options and exits 0', async () => {
    const r = startCli(['--help'], BOUND_MS);
    assert.equal(await r.exited, 0);
    for (const flag of ['--port', '--host', '--workers', '--config', '--log-level']) assert.match(r.stdout(), new RegExp(flag));
  });

  test('an invalid config value stops it with an error naming the field', async () => {
    const r = startCli(['--port', '0', '--workers=-1'], BOUND_MS);
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), /config\.workers/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`serves MQTT and stops gracefully on ${signal}`, async () => {
      const r = startCli(['--port', '0', '--workers', '1', '--log-level', 'info'], BOUND_MS);
      const port = await listeningPort(r);
      const sub = await connectClient(port, { version: 5, clientId: uniqueId('cli') });
      const pub = await connectClient(port, { version: 4, clientId: uniqueId('cli') });
      const topic = uniqueTopic('cli');
      await sub.subscribeAsync(topic, { qos: 1 });
      await pub.publishAsync(topic, 'via cli', { qos: 1 });
      assert.equal((await nextMessage(sub, (m) => m.topic === topic)).payload.toString(), 'via cli');
      const disconnect = once<[{ reasonCode?: number }]>(sub, 'disconnect', BOUND_MS);
      r.child.kill(signal);
      const [packet] = await disconnect;
      assert.equal(packet.reasonCode, 0x8b, 'Server shutting down');
      assert.equal(await r.exited, 0);
      pub.end(true);
      sub.end(true);
    });
  }
});
