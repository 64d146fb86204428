/**
 * Sessions cluster-wide on a real nats-server: a client that reconnects to
 * another node takes its session over there (the old connection gets 0x8E
 * on 5.0, subscriptions, queued and unacknowledged messages move, `session
 * present`), one node owns a session at a time, and a clean start there
 * ends it; mqtt.js under both protocol versions, nodes with and without
 * worker threads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TestBroker } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessages, once, persistent, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { waitUntil } from '../helpers/wait.js';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { bucketKey } from '../../src/main/cluster/subjects.js';
import { clusterForSuite, untilLinked } from './support.js';
import { natsSkip } from '../helpers/nats.js';

describe('cluster-wide sessions on NATS', { skip: natsSkip }, () => {
  const cluster = clusterForSuite([{ workers: 0 }, { workers: 2 }, {}]);

  for (const version of VERSIONS) {
    describe(`MQTT ${version === 5 ? '5.0' : '3.1.1'}`, () => {
      test('a client reconnecting to another node takes its session there: 0x8E to the old connection, session present, the queued QoS 1 messages [MQTT-3.1.4-3] [MQTT-3.2.2-2] [MQTT-4.4.0-1]', async () => {
        const [a, b, c] = cluster.nodes() as [TestBroker, TestBroker, TestBroker];
        const clientId = uniqueId('mover');
        const topic = uniqueTopic('mv');
        const first = await connectClient(a.port, { version, clientId, ...persistent(version) });
        await first.subscribeAsync(topic, { qos: 1 });
        const publisher = await connectClient(c.port, { version });
        await untilLinked(publisher, first, topic);
        const kicked = version === 5 ? once<[{ reasonCode?: number }]>(first, 'disconnect') : undefined;
        const closed = once(first, 'close');
        // Queued while the session is connected elsewhere: the takeover must carry what is on its way.
        const second = await connectClient(b.port, { version, clientId, ...persistent(version) });
        await closed;
        if (kicked) assert.equal((await kicked)[0].reasonCode, 0x8e);
        assert.equal(second.connack.sessionPresent, true);
        await untilLinked(publisher, second, topic);
        for (let i = 0; i < 5; i++) await publisher.publishAsync(topic, `q${i}`, { qos: 1 });
        const got = await nextMessages(second, 5, (m) => m.payload.toString().startsWith('q'));
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          ['q0', 'q1', 'q2', 'q3', 'q4'],
        );
      });

      test('messages queued for an offline session on one node are delivered when its client comes back on another [MQTT-3.1.2-5]', async () => {
        const [a, b, c] = cluster.nodes() as [TestBroker, TestBroker, TestBroker];
        const clientId = uniqueId('offline');
        const topic = uniqueTopic('off');
        const first = await connectClient(b.port, { version, clientId, ...persistent(version) });
        await first.subscribeAsync(topic, { qos: 1 });
        const publisher = await connectClient(a.port, { version });
        await untilLinked(publisher, first, topic);
        await first.endAsync();
        for (let i = 0; i < 4; i++) await publisher.publishAsync(topic, `o${i}`, { qos: 1 });
        await waitUntil(async () => {
          const stats = await b.broker.stats();
          return stats.hosts.reduce((n, h) => n + h.queued + h.inflight, 0) >= 4;
        }, 'node b to queue the four messages');
        const back = await connectClient(c.port, { version, clientId, ...persistent(version) });
        assert.equal(back.connack.sessionPresent, true);
        const got = await nextMessages(back, 4, (m) => m.payload.toString().startsWith('o'));
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          ['o0', 'o1', 'o2', 'o3'],
        );
        const stats = (await c.broker.stats()).cluster!;
        assert.ok(stats.takenOver >= 1, 'node c counted a session handed over');
      });

      test('a clean start on another node ends the session: no session present, nothing of the old subscriptions [MQTT-3.1.2-4]', async () => {
        const [a, b] = cluster.nodes() as [TestBroker, TestBroker];
        const clientId = uniqueId('clean');
        const topic = uniqueTopic('cl');
        const first = await connectClient(a.port, { version, clientId, ...persistent(version) });
        await first.subscribeAsync(topic, { qos: 1 });
        await first.endAsync();
        const fresh = await connectClient(b.port, { version, clientId, clean: true });
        assert.equal(fresh.connack.sessionPresent, false);
        await fresh.endAsync();
        const again = await connectClient(a.port, { version, clientId, ...persistent(version) });
        assert.equal(again.connack.sessionPresent, false);
      });
    });
  }

  test("the sessions bucket holds the sessions that exist: a clean session's entry goes when it ends, a persistent one's stays", async () => {
    const [a] = cluster.nodes() as [TestBroker];
    const nc = await connect({ servers: cluster.nats().url });
    try {
      const bucket = await new Kvm(nc).open('shoal-sessions');
      const owner = async (clientId: string): Promise<string | undefined> => {
        const entry = await bucket.get(bucketKey('', clientId));
        return entry?.operation === 'PUT' ? entry.string() : undefined;
      };
      const clean = await connectClient(a.port, { version: 5, clientId: uniqueId('gone') });
      const kept = await connectClient(a.port, { version: 5, clientId: uniqueId('kept'), ...persistent(5) });
      assert.ok(await owner(clean.clientId));
      await clean.endAsync();
      await kept.endAsync();
      await waitUntil(async () => (await owner(clean.clientId)) === undefined, "the clean session's entry to go");
      assert.ok(await owner(kept.clientId), "the persistent session's entry stays");
    } finally {
      await nc.close();
    }
  });

  test('two CONNECTs of one client id on two nodes at once: one session, one connection left', async () => {
    const [a, b] = cluster.nodes() as [TestBroker, TestBroker];
    const clientId = uniqueId('race');
    const results = await Promise.allSettled([
      connectClient(a.port, { version: 5, clientId, ...persistent(5) }),
      connectClient(b.port, { version: 5, clientId, ...persistent(5) }),
    ]);
    const connected = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    assert.ok(connected.length >= 1);
    await waitUntil(() => connected.filter((client) => client.connected).length === 1, 'exactly one of the two connections to stay');
    const survivor = connected.find((client) => client.connected)!;
    const topic = uniqueTopic('race');
    await survivor.subscribeAsync(topic, { qos: 1 });
    const publisher = await connectClient(cluster.nodes()[2]!.port, { version: 5 });
    await untilLinked(publisher, survivor, topic);
    await publisher.publishAsync(topic, 'once', { qos: 1 });
    assert.equal((await nextMessages(survivor, 1, (m) => m.payload.toString() === 'once'))[0]!.packet.qos, 1);
    await expectNoMessage(survivor, 150, (m) => m.payload.toString() === 'once');
    const owners = await Promise.all([a, b].map((node) => node.broker.topSessions({ by: 'packets', limit: 1000 })));
    assert.equal(owners.flat().filter((s) => s.clientId === clientId).length, 1, 'one node holds the session');
  });
});
