/**
 * Three Shoal nodes on a real nats-server, clients on different nodes
 * (mqtt.js, both protocol versions): messages cross nodes with their QoS,
 * properties and per-publisher order, exactly once (no loop, no copy per
 * overlapping subscription); retained messages are cluster-wide, for nodes
 * that join later too; a shared subscription group with members on every
 * node gets each message once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TestBroker } from '../helpers/broker.js';
import {
  closeAllClients,
  connectClient,
  expectNoMessage,
  nextMessage,
  nextMessages,
  pendingMessages,
  uniqueTopic,
  VERSIONS,
  type Received,
} from '../helpers/clients.js';
import { scrapeMetrics } from '../helpers/prometheus.js';
import { waitUntil } from '../helpers/wait.js';
import { clusterForSuite, nodeName, pollRetained, retainedFor, startNode, untilLinked } from './support.js';
import { natsSkip } from '../helpers/nats.js';

describe('cluster routing on NATS', { skip: natsSkip }, () => {
  const cluster = clusterForSuite([{}, { workers: 2 }, { workers: 0 }]);

  for (const version of VERSIONS) {
    describe(`MQTT ${version === 5 ? '5.0' : '3.1.1'}`, () => {
      for (const qos of [0, 1, 2] as const) {
        test(`a QoS ${qos} PUBLISH on one node reaches the subscribers of the other two in order, at the granted QoS [MQTT-3.3.5-1] [MQTT-4.6.0-6]`, async () => {
          const [a, b, c] = cluster.nodes() as [TestBroker, TestBroker, TestBroker];
          const topic = uniqueTopic('xr');
          const publisher = await connectClient(a.port, { version });
          const onB = await connectClient(b.port, { version });
          const onC = await connectClient(c.port, { version });
          await onB.subscribeAsync(topic, { qos: 2 });
          await onC.subscribeAsync(topic, { qos: 1 });
          await untilLinked(publisher, onB, topic);
          await untilLinked(publisher, onC, topic);
          const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
          const properties = version === 5 ? { contentType: 'text/plain', userProperties: { from: 'a' } } : undefined;
          await Promise.all(sent.map((p) => publisher.publishAsync(topic, p, { qos, properties })));
          const gotB = await nextMessages(onB, sent.length, notProbe);
          const gotC = await nextMessages(onC, sent.length, notProbe);
          assert.deepEqual(
            gotB.map((m) => m.payload.toString()),
            sent,
          );
          assert.deepEqual(
            gotC.map((m) => m.payload.toString()),
            sent,
          );
          assert.ok(gotB.every((m) => m.packet.qos === qos && m.packet.retain === false));
          assert.ok(gotC.every((m) => m.packet.qos === Math.min(qos, 1)));
          if (version === 5) {
            assert.equal(gotB[0]!.packet.properties?.contentType, 'text/plain');
            assert.deepEqual({ ...gotB[0]!.packet.properties?.userProperties }, { from: 'a' });
          }
          await expectNoMessage(onB, 100, notProbe);
        });
      }

      test("a client subscribed on two nodes' worth of overlapping filters gets each message once; nothing comes back to its node", async () => {
        const [a, b] = cluster.nodes() as [TestBroker, TestBroker];
        const root = uniqueTopic('xo');
        const publisher = await connectClient(b.port, { version });
        const local = await connectClient(b.port, { version });
        const remote = await connectClient(a.port, { version });
        await remote.subscribeAsync([`${root}/#`, `${root}/+`, `${root}/x`], { qos: 1 });
        await local.subscribeAsync(`${root}/#`, { qos: 1 });
        await untilLinked(publisher, remote, `${root}/x`);
        for (let i = 0; i < 5; i++) await publisher.publishAsync(`${root}/x`, `n${i}`, { qos: 1 });
        const got = await nextMessages(remote, 5, (m) => m.payload.toString().startsWith('n'));
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          ['n0', 'n1', 'n2', 'n3', 'n4'],
        );
        await expectNoMessage(remote, 150, (m) => m.payload.toString().startsWith('n'));
        const here = pendingMessages(local).filter((m) => m.payload.toString().startsWith('n'));
        assert.deepEqual(
          here.map((m) => m.payload.toString()),
          ['n0', 'n1', 'n2', 'n3', 'n4'],
        );
      });

      test('a retained message is kept cluster-wide: a new subscriber on any node gets it with RETAIN 1; an empty one on another node clears it [MQTT-3.3.1-6] [MQTT-3.3.1-10]', async () => {
        const [a, b, c] = cluster.nodes() as [TestBroker, TestBroker, TestBroker];
        const topic = uniqueTopic('xret');
        const publisher = await connectClient(a.port, { version });
        await publisher.publishAsync(topic, 'kept', { qos: 1, retain: true });
        const late = await pollRetained(c.port, topic, version, 'kept');
        assert.equal(late.packet.retain, true);
        const clearer = await connectClient(b.port, { version });
        await clearer.publishAsync(topic, '', { qos: 1, retain: true });
        await waitUntil(
          async () => (await retainedFor(c.port, topic, version)) === undefined,
          'the cleared topic to have no retained message on node c',
        );
      });
    });
  }

  test('a node joining later reads the retained messages published before it joined', async () => {
    const [a] = cluster.nodes() as [TestBroker];
    const topic = uniqueTopic('xjoin');
    const publisher = await connectClient(a.port);
    await publisher.publishAsync(topic, 'before', { qos: 1, retain: true });
    await waitUntil(async () => (await retainedFor(a.port, topic, 4))?.payload.toString() === 'before', 'the retained message on node a');
    const d = await startNode(cluster.nats(), nodeName());
    try {
      assert.equal((await retainedFor(d.port, topic, 5))?.payload.toString(), 'before');
    } finally {
      await closeAllClients();
      await d.close();
    }
  });

  test('a request published after SUBACK gets its answer from another node: the subscription went ahead of it on the same NATS connection', async () => {
    const [a, b] = cluster.nodes() as [TestBroker, TestBroker];
    const root = uniqueTopic('rr');
    const responder = await connectClient(b.port, { version: 5 });
    await responder.subscribeAsync(`${root}/req/+`, { qos: 1 });
    responder.on('message', (topic, payload) => responder.publish(topic.replace('/req/', '/resp/'), payload, { qos: 1 }));
    const warm = await connectClient(a.port, { version: 5 });
    await untilLinked(warm, responder, `${root}/req/warm`);
    for (let i = 0; i < 20; i++) {
      const requester = await connectClient(a.port, { version: i % 2 === 0 ? 5 : 4 });
      await requester.subscribeAsync(`${root}/resp/${i}`, { qos: 1 });
      await requester.publishAsync(`${root}/req/${i}`, `ask ${i}`, { qos: 1 });
      assert.equal((await nextMessage(requester, (m) => m.topic === `${root}/resp/${i}`)).payload.toString(), `ask ${i}`);
      requester.end(true);
    }
  });

  test("a node's $SYS figures stay on that node: a subscriber on another node gets none of them", async () => {
    const [a] = cluster.nodes() as [TestBroker];
    const watched = await startNode(cluster.nats(), nodeName(), { sysInterval: 1 });
    try {
      const here = await connectClient(watched.port, { version: 5 });
      const elsewhere = await connectClient(a.port, { version: 5 });
      await elsewhere.subscribeAsync('$SYS/broker/uptime', { qos: 0 });
      await here.subscribeAsync('$SYS/broker/uptime', { qos: 0 });
      await nextMessage(here, () => true, 3000);
      await nextMessage(here, () => true, 3000);
      await expectNoMessage(elsewhere, 100);
      assert.equal((await watched.broker.stats()).cluster!.forwarded, 0);
    } finally {
      await closeAllClients();
      await watched.close();
    }
  });

  test('/metrics of a node counts the messages it sent and got across the cluster and says it is linked', async () => {
    const [a] = cluster.nodes() as [TestBroker];
    const watched = await startNode(cluster.nats(), nodeName(), { metricsPort: 0 });
    try {
      const topic = uniqueTopic('xm');
      const publisher = await connectClient(watched.port, { version: 5 });
      const remote = await connectClient(a.port, { version: 4 });
      await remote.subscribeAsync(topic, { qos: 1 });
      await untilLinked(publisher, remote, topic);
      const metricsPort = watched.broker.addresses().metrics!.port;
      const before = await scrapeMetrics(metricsPort);
      for (let i = 0; i < 3; i++) await publisher.publishAsync(topic, `c${i}`, { qos: 1 });
      await nextMessages(remote, 3, (m) => m.payload.toString().startsWith('c'));
      const after = await scrapeMetrics(metricsPort);
      assert.equal(after.value('shoal_cluster_link_up'), 1);
      const sent = (after.value('shoal_cluster_messages_out_total') ?? 0) - (before.value('shoal_cluster_messages_out_total') ?? 0);
      assert.equal(sent, 3);
      assert.ok((after.value('shoal_cluster_bytes_out_total') ?? 0) > (before.value('shoal_cluster_bytes_out_total') ?? 0));
      assert.ok((after.value('shoal_cluster_subscriptions') ?? 0) >= 1);
    } finally {
      await closeAllClients();
      await watched.close();
    }
  });

  test('a shared subscription group with members on every node gets each message once, spread over its members [MQTT-4.8.2-2]', async () => {
    const topic = uniqueTopic('xsh');
    const members = await Promise.all(cluster.nodes().map((node, i) => connectClient(node.port, { version: i === 1 ? 4 : 5 })));
    for (const member of members) await member.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    const publisher = await connectClient(cluster.nodes()[0]!.port, { version: 5 });
    // Every member's node took the group (its queue subscription): each gets a probe within some rounds.
    const probed = new Set<number>();
    await waitUntil(async () => {
      await publisher.publishAsync(topic, 'probe', { qos: 0 });
      members.forEach((m, i) => pendingMessages(m).length > 0 && probed.add(i));
      return probed.size === members.length;
    }, 'every member to get a probe');
    const sent = Array.from({ length: 60 }, (_, i) => `s${i}`);
    for (const p of sent) await publisher.publishAsync(topic, p, { qos: 1 });
    await waitUntil(
      () => members.reduce((n, m) => n + pendingMessages(m).filter((x) => x.payload.toString().startsWith('s')).length, 0) >= sent.length,
      'every message to reach a member',
    );
    await new Promise((settle) => setImmediate(settle));
    const got = members.map((m) =>
      pendingMessages(m)
        .filter((x) => x.payload.toString().startsWith('s'))
        .map((x) => x.payload.toString()),
    );
    assert.deepEqual(got.flat().sort(), [...sent].sort());
    assert.ok(
      got.every((list) => list.length > 0),
      `each member got some: ${got.map((l) => l.length).join(', ')}`,
    );
  });
});

/** Not one of the probes untilLinked sent. */
function notProbe(m: Received): boolean {
  return !m.payload.toString().startsWith('probe');
}
