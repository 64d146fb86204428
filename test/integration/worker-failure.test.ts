/**
 * Integration: a worker thread that dies takes only its own sessions with it.
 * Its clients are disconnected, a new worker takes its shard, clients of the
 * other worker keep working, and the disconnected clients can reconnect and
 * use the broker again. Both protocol versions.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { hostFor } from '../../src/shared/placement.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAllClients, connectClient, nextMessage, once, uniqueTopic, VERSIONS, type TestClient } from '../helpers/clients.js';
import { idOnHost } from '../helpers/placement.js';
import { label } from '../helpers/spec.js';

function workerThreads(b: TestBroker): ReadonlyArray<Worker> {
  // The broker's host supervisor and its piscina launcher (src/main/hosts/supervisor.ts, worker-hosts.ts).
  return (b.broker as unknown as { hosts: { launcher: { threads: ReadonlyArray<Worker> } } }).hosts.launcher.threads;
}

async function roundTrip(sub: TestClient, pub: TestClient): Promise<void> {
  const topic = uniqueTopic('wf');
  await sub.subscribeAsync(topic, { qos: 1 });
  await pub.publishAsync(topic, 'alive', { qos: 1 });
  const m = await nextMessage(sub, (r) => r.topic === topic);
  assert.equal(m.payload.toString(), 'alive');
}

for (const version of VERSIONS) {
  describe(`worker failure (${label(version)})`, () => {
    after(closeAllClients);

    test('a dead worker disconnects only its own clients; a new worker serves them on reconnect', async () => {
      const b = await startBroker({ workers: 2 });
      try {
        const clients = await Promise.all(
          [0, 0, 1, 1].map((host) => connectClient(b.port, { version, clientId: idOnHost(host, 2, 'wf') })),
        );
        const closed = clients.map((c) =>
          once(c, 'close', 10_000).then(
            () => true,
            () => false,
          ),
        );
        const failed = once(b.broker, 'host-failed', 10_000);
        await (workerThreads(b)[0] as Worker).terminate();
        const [deadHost] = (await failed) as [number];
        const survivors = clients.filter((c) => hostFor('', c.clientId, 2) !== deadHost);
        const victims = clients.filter((c) => hostFor('', c.clientId, 2) === deadHost);
        await Promise.all(victims.map((c) => closed[clients.indexOf(c)]));
        for (const c of survivors) assert.equal(c.connected, true, 'a client of the other worker stays connected');
        await roundTrip(survivors[0] as TestClient, survivors[1] as TestClient);

        const back = await Promise.all(victims.map((c) => connectClient(b.port, { version, clientId: c.clientId })));
        await roundTrip(back[0] as TestClient, survivors[0] as TestClient);
        await roundTrip(survivors[1] as TestClient, back[1] as TestClient);
      } finally {
        await b.close();
      }
    });
  });
}
