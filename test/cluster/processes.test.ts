/**
 * `shoal --processes 2`: two nodes of one cluster in two processes behind
 * one port, against a real nats-server: both join under their own node ids,
 * connections to the one port reach both, a message crosses between them,
 * a session follows its client from one process to the other, and SIGTERM
 * stops them all. mqtt.js under both protocol versions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { outputMatch, startCli } from '../helpers/cli.js';
import { closeAllClients, connectClient, nextMessage, persistent, uniqueId, uniqueTopic } from '../helpers/clients.js';
import { natsSkip, startNats } from '../helpers/nats.js';
import { withBound } from '../helpers/clients.js';
import { nodeName, untilLinked } from './support.js';

describe('shoal --processes', { skip: natsSkip }, () => {
  test('two node processes behind one port: both join, a message crosses, a session follows its client, SIGTERM stops both', async () => {
    const nats = await startNats();
    const nodeId = nodeName();
    const args = ['--processes', '2', '--port', '0', '--in-memory', '--workers', '0', '--log-format', 'json'];
    const run = startCli([...args, '--cluster', nats.url, '--node-id', nodeId], { boundMs: 60_000 });
    try {
      await outputMatch(run, new RegExp(`"cluster":"${nodeId}-0".*"msg":"joined the cluster"`));
      await outputMatch(run, new RegExp(`"cluster":"${nodeId}-1".*"msg":"joined the cluster"`));
      const ports = [...run.stdout().matchAll(/"port":(\d+).*"msg":"listening"/g)].map((m) => Number(m[1]));
      await outputMatch(run, /"msg":"listening"[\s\S]*"msg":"listening"/);
      const port = Number(/"port":(\d+).*"msg":"listening"/.exec(run.stdout())![1]);
      assert.ok(
        ports.every((p) => p === port),
        'both processes listen on the same port',
      );

      const topic = uniqueTopic('proc');
      const subscriber = await connectClient(port, { version: 5 });
      await subscriber.subscribeAsync(topic, { qos: 1 });
      const publisher = await connectClient(port, { version: 4 });
      await untilLinked(publisher, subscriber, topic);
      await publisher.publishAsync(topic, 'across processes', { qos: 1 });
      assert.equal((await nextMessage(subscriber, (m) => m.payload.toString() === 'across processes')).packet.qos, 1);

      const clientId = uniqueId('follow');
      const first = await connectClient(port, { version: 5, clientId, ...persistent(5) });
      await first.subscribeAsync(`${topic}/own`, { qos: 1 });
      await first.endAsync();
      const again = await connectClient(port, { version: 5, clientId, ...persistent(5) });
      assert.equal(again.connack.sessionPresent, true);
      const joined = (run.stdout().match(/"msg":"client connected"/g) ?? []).length;
      assert.ok(joined >= 4);

      await closeAllClients();
      run.child.kill('SIGTERM');
      assert.equal(await withBound(run.exited, 20_000, 'shoal --processes to stop'), 0);
    } finally {
      await closeAllClients();
      run.child.kill('SIGKILL');
      await nats.close();
    }
  });
});
