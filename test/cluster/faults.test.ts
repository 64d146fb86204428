/**
 * The cluster's fault policies against a real nats-server (BENCHMARKS.md
 * and README "Cluster" state them):
 * - NATS unreachable: every node keeps serving its local clients (shared
 *   groups among their members here); a new
 *   CONNECT is refused (0x88 / return code 3) while ownership cannot be
 *   checked; a retained message set meanwhile reaches the cluster once the
 *   link is back; the nodes reconnect by themselves and route again (their
 *   interest is subscribed again).
 * - A node cut off from NATS (a split): it keeps its local clients; a
 *   client that connects to another node meanwhile is served there without
 *   the state the cut node holds; when the link is back, the cut node ends
 *   its copy (0x8E to its old connection) once the handover timeout passed.
 * - A node killed with SIGKILL: its persistent sessions and their queued
 *   messages are on its disk and back when it restarts with the same data
 *   directory and node id; a client that reconnects to another node
 *   meanwhile is served there at once, without that state (session present
 *   0), since the dead node cannot hand it over; the restarted node ends
 *   its stale copy of that session once it checked its store against the
 *   sessions bucket.
 * mqtt.js and raw clients under both protocol versions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { listeningPort, outputMatch, startCli, type CliRun } from '../helpers/cli.js';
import {
  closeAllClients,
  connectClient,
  nextMessage,
  nextMessages,
  once,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
} from '../helpers/clients.js';
import { natsSkip, startNats } from '../helpers/nats.js';
import { closeAllRawClients, RawClient } from '../helpers/raw-client.js';
import { scrapeMetrics } from '../helpers/prometheus.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeName, pollRetained, startNode, untilLinked } from './support.js';

after(async () => {
  await closeAllClients();
  await closeAllRawClients();
});

describe('NATS stopped and started again', { skip: natsSkip }, () => {
  test('nodes serve their local clients, refuse new CONNECTs (0x88 / 3), then route again; a retained message set meanwhile reaches the other node', async () => {
    const nats = await startNats();
    const nodes: TestBroker[] = [];
    try {
      const a = await startNode(nats, nodeName());
      nodes.push(a);
      const b = await startNode(nats, nodeName(), { workers: 0 });
      nodes.push(b);
      const topic = uniqueTopic('nr');
      const publisher = await connectClient(a.port, { version: 5 });
      const remote = await connectClient(b.port, { version: 4 });
      await remote.subscribeAsync(topic, { qos: 1 });
      await untilLinked(publisher, remote, topic);
      const local = await connectClient(a.port, { version: 4 });
      await local.subscribeAsync(topic, { qos: 1 });
      const member = await connectClient(a.port, { version: 5 });
      await member.subscribeAsync(`$share/g/${topic}`, { qos: 1 });

      await nats.stop();
      for (const node of nodes) await waitUntil(async () => !(await node.broker.readiness()).bridge, 'the nodes to see the link down');
      assert.equal((await a.broker.readiness()).ready, false);
      await publisher.publishAsync(topic, 'local only', { qos: 1 });
      assert.equal((await nextMessage(local, (m) => m.payload.toString() === 'local only')).packet.qos, 1);
      assert.equal((await nextMessage(member, (m) => m.payload.toString() === 'local only')).packet.qos, 1);
      for (const version of VERSIONS) {
        const raw = await RawClient.connect(a.port, version);
        const connack = await raw.handshake({ clientId: uniqueId('unlinked') });
        assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, version === 5 ? 0x88 : 3);
      }
      const retainedTopic = uniqueTopic('nr-ret');
      await publisher.publishAsync(retainedTopic, 'set while unlinked', { qos: 1, retain: true });

      await nats.restart();
      for (const node of nodes) await waitUntil(async () => (await node.broker.readiness()).ready, 'the nodes to be ready again', 15_000);
      await untilLinked(publisher, remote, topic);
      await publisher.publishAsync(topic, 'across again', { qos: 1 });
      assert.equal((await nextMessage(remote, (m) => m.payload.toString() === 'across again')).packet.qos, 1);
      const kept = await pollRetained(b.port, retainedTopic, 5, 'set while unlinked', 15_000);
      assert.equal(kept.payload.toString(), 'set while unlinked');
      assert.equal(kept.packet.retain, true);
      const stats = (await a.broker.stats()).cluster!;
      assert.ok(stats.linkLosses >= 1);
    } finally {
      await closeAllClients();
      await closeAllRawClients();
      for (const node of nodes) await node.close();
      await nats.close();
    }
  });
});

describe('a node cut off from NATS (a split)', { skip: natsSkip }, () => {
  test('a client connecting elsewhere meanwhile is served there; the cut node ends its copy (0x8E) when its link is back [MQTT-3.1.4-3]', async () => {
    const nats = await startNats();
    const proxy = await startTcpProxy(nats.port);
    const nodes: TestBroker[] = [];
    try {
      const handoverTimeoutMs = 500;
      const cluster = (nodeId: string, url: string) => ({
        cluster: { servers: [url], nodeId, handoverTimeoutMs },
      });
      const cut = await startBroker(cluster(nodeName(), `nats://127.0.0.1:${proxy.port}`));
      nodes.push(cut);
      const other = await startBroker(cluster(nodeName(), nats.url));
      nodes.push(other);
      const clientId = uniqueId('split');
      const old = await connectClient(cut.port, { version: 5, clientId, ...persistent(5) });
      const kicked = once<[{ reasonCode?: number }]>(old, 'disconnect', 30_000);

      await proxy.cut();
      await waitUntil(async () => !(await cut.broker.readiness()).bridge, 'the cut node to see its link down');
      assert.equal(old.connected, true, 'the cut node keeps its local client');
      const moved = await connectClient(other.port, { version: 5, clientId, ...persistent(5) });
      assert.equal(moved.connack.sessionPresent, false);

      await proxy.mend();
      assert.equal((await kicked)[0].reasonCode, 0x8e);
      await waitUntil(async () => (await cut.broker.stats()).cluster!.evicted === 1, 'the cut node to count the session it ended');
      assert.equal(moved.connected, true, 'the session lives on the other node');
    } finally {
      await closeAllClients();
      for (const node of nodes) await node.close();
      await proxy.close();
      await nats.close();
    }
  });
});

describe('a node killed with SIGKILL', { skip: natsSkip }, () => {
  test('its sessions and queued messages are back when it restarts; a client that moved meanwhile is served at once without them [MQTT-3.2.2-2] [MQTT-4.4.0-1]', async () => {
    const nats = await startNats();
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-cluster-kill-'));
    const nodeId = nodeName();
    const args = [
      '--port',
      '0',
      '--workers',
      '0',
      '--log-format',
      'json',
      '--cluster',
      nats.url,
      '--node-id',
      nodeId,
      '--data-dir',
      dataDir,
    ];
    let killed: CliRun | undefined;
    let restarted: CliRun | undefined;
    let b: TestBroker | undefined;
    try {
      killed = startCli(args, { boundMs: 60_000 });
      const portA = await listeningPort(killed);
      b = await startNode(nats, nodeName());
      const topic = uniqueTopic('kill');
      const publisher = await connectClient(b.port, { version: 5 });
      const stayers = VERSIONS.map((version) => ({ version, clientId: uniqueId(`stay${version}`) }));
      const movers = VERSIONS.map((version) => ({ version, clientId: uniqueId(`move${version}`) }));
      for (const { version, clientId } of [...stayers, ...movers]) {
        const client = await connectClient(portA, { version, clientId, ...persistent(version) });
        await client.subscribeAsync(topic, { qos: 1 });
        await untilLinked(publisher, client, topic);
        await client.endAsync();
      }
      // A QoS 1 publish on node a is acknowledged once node a committed what it queued; its commits keep their order.
      const witness = await connectClient(portA, { version: 5 });
      await witness.subscribeAsync(topic, { qos: 1 });
      const sent = ['k0', 'k1', 'k2'];
      for (const payload of sent) await publisher.publishAsync(topic, payload, { qos: 1 });
      await nextMessages(witness, 3, (m) => m.payload.toString().startsWith('k'));
      await witness.publishAsync(topic, 'k3', { qos: 1 });
      sent.push('k3');

      killed.child.kill('SIGKILL');
      await killed.exited;
      for (const { version, clientId } of movers) {
        const moved = await connectClient(b.port, { version, clientId, ...persistent(version) });
        assert.equal(moved.connack.sessionPresent, false, 'the dead node could not hand the session over');
      }

      restarted = startCli([...args, '--metrics-port', '0'], { boundMs: 60_000 });
      const portAgain = await listeningPort(restarted);
      const [monitoring] = await outputMatch(restarted, /^.*"msg":"monitoring on .*$/m);
      const metricsPort = (JSON.parse(monitoring) as { port: number }).port;
      for (const { version, clientId } of stayers) {
        const back = await connectClient(portAgain, { version, clientId, ...persistent(version) });
        assert.equal(back.connack.sessionPresent, true);
        const got = await nextMessages(back, sent.length, (m) => m.payload.toString().startsWith('k'));
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          sent,
        );
      }
      const stats = (await b.broker.stats()).cluster!;
      assert.equal(stats.takenWithoutState, movers.length);
      // The restarted node checks its stored sessions against the bucket and ends the copies of the movers'.
      await waitUntil(
        async () => (await scrapeMetrics(metricsPort)).value('shoal_cluster_sessions_total', { event: 'evicted' }) === movers.length,
        'the restarted node to end its stale copies of the sessions that moved',
      );
    } finally {
      await closeAllClients();
      killed?.child.kill('SIGKILL');
      restarted?.child.kill('SIGTERM');
      await restarted?.exited;
      await b?.close();
      await nats.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
