/**
 * Integration: a persistent session as a store keeps it. Over real sockets
 * with mqtt.js, under MQTT 3.1.1 and 5.0: a client subscribes (with its
 * options and, on 5.0, a Subscription Identifier) and goes offline, QoS 1
 * messages queue for it; its actor host snapshots the session to a
 * SessionRecord, which goes through a MemorySessionStore (as a copy, the way
 * a store that serializes gives it back), and a fresh broker's host takes it
 * back. The restored session's record equals the stored one, and the client
 * reconnecting to the fresh broker finds its session and its messages.
 *
 * The brokers run their hosts on the main thread (`workers: 0`); the test
 * reaches a host's control object (SessionTransfer) through the broker's
 * host handles, which the embedding API does not expose.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type Broker, type TestBroker } from '../helpers/broker.js';
import {
  closeAllClients,
  closeClient,
  connectClient,
  nextMessage,
  nextMessages,
  once,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
} from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import type { SessionTransfer } from '../../workers/actor-host.js';
import type { HostControl } from '../../src/shared/channel/host-control.js';
import { MemorySessionStore, type SessionRecord } from '../../workers/session/session-store.js';
import { pollFor } from '../helpers/wait.js';

/** The control objects of a broker's inline hosts (through the host supervisor, until a store is configured by name). */
function hostControls(broker: Broker): Array<HostControl & SessionTransfer> {
  const { hosts: supervisor } = broker as unknown as { hosts: { hosts: Array<{ control: HostControl & SessionTransfer }> } };
  return supervisor.hosts.map((h) => h.control);
}

/** The record of `clientId` once `ready` holds for it, polling the host's snapshots; bounded. */
function recordOf(broker: TestBroker, clientId: string, ready: (r: SessionRecord) => boolean): Promise<SessionRecord> {
  return pollFor(async () => {
    for (const control of hostControls(broker.broker)) {
      const record = (await control.sessions()).find((r) => r.clientId === clientId);
      if (record && ready(record)) return record;
    }
    return undefined;
  }, `a record of ${clientId} as expected`);
}

for (const version of VERSIONS) {
  describe(`session store (${label(version)})`, () => {
    test(`${rule(version, '3.1.2-4', '3.1.2-5')} ${rule(version, '3.2.2-2', '3.2.2-3')} a persistent session snapshotted to a record and restored into a fresh host keeps its subscription and queued QoS 1 messages (session present 1)`, async () => {
      const first = await startBroker({ workers: 0 });
      let second: TestBroker | undefined;
      try {
        const clientId = uniqueId('store');
        const topic = uniqueTopic('store');
        const subscriptionId = 7;
        const payloads = ['one', 'two', 'three'];

        const sub = await connectClient(first.port, { version, clientId, ...persistent(version) });
        const granted =
          version === 5
            ? await sub.subscribeAsync(topic, { qos: 1, rap: true, rh: 1, properties: { subscriptionIdentifier: subscriptionId } })
            : await sub.subscribeAsync(topic, { qos: 1 });
        assert.equal(granted[0]?.qos, 1);
        const gone = once<[string]>(first.broker, 'client-disconnected', 5_000, (id) => id === clientId);
        await closeClient(sub);
        await gone;
        const pub = await connectClient(first.port, { version });
        for (const payload of payloads) await pub.publishAsync(topic, payload, { qos: 1 });
        const record = await recordOf(first, clientId, (r) => r.queued.length === payloads.length);

        assert.equal(record.protocolVersion, version);
        assert.deepEqual(
          record.queued.map((o) => o.message.payload.toString()),
          payloads,
          'queued in publish order',
        );
        assert.ok(record.queued.every((o) => o.qos === 1 && o.message.topic === topic));
        assert.deepEqual(record.inflight, [], 'nothing was sent while offline');
        assert.ok(record.expiresAt !== null && record.expiresAt > Date.now(), 'an offline session has a deadline in the future');
        const [subscription] = record.subscriptions;
        assert.equal(record.subscriptions.length, 1);
        assert.equal(subscription?.filter, topic);
        assert.equal(subscription?.qos, 1);
        if (version === 5) {
          assert.equal(subscription?.subscriptionId, subscriptionId);
          assert.equal(subscription?.retainAsPublished, true);
          assert.equal(subscription?.retainHandling, 1);
          assert.ok(record.queued.every((o) => o.subscriptionIds.includes(subscriptionId)));
        }

        const store = new MemorySessionStore();
        store.save(structuredClone(record));
        assert.deepEqual(store.load(), [], 'a save is staged until the commit');
        store.commit();
        const stored = store.load();
        assert.equal(stored.length, 1);

        await closeClient(pub);
        await first.close();
        second = await startBroker({ workers: 0 });
        const [control] = hostControls(second.broker);
        await control!.restore(stored);
        const restored = await recordOf(second, clientId, () => true);
        assert.deepEqual(restored, record, 'the restored session records as the stored one');

        const back = await connectClient(second.port, { version, clientId, ...persistent(version) });
        assert.equal(back.connack.sessionPresent, true, `${rule(version, '3.2.2-2', '3.2.2-2')} session present`);
        const got = await nextMessages(back, payloads.length, (m) => m.topic === topic);
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          payloads,
          `${rule(version, '4.6.0-6', '4.6.0-6')} in order`,
        );
        assert.ok(got.every((m) => m.packet.qos === 1));
        if (version === 5) assert.ok(got.every((m) => m.packet.properties?.subscriptionIdentifier === subscriptionId));

        // The subscription came back with the session: the fresh broker routes new messages to it.
        const pub2 = await connectClient(second.port, { version });
        await pub2.publishAsync(topic, 'after', { qos: 1 });
        const after = await nextMessage(back, (m) => m.topic === topic);
        assert.equal(after.payload.toString(), 'after');
      } finally {
        await closeAllClients();
        await first.close();
        await second?.close();
      }
    });
  });
}

describe('MemorySessionStore', () => {
  const record = (clientId: string, pool = ''): SessionRecord => ({
    pool,
    clientId,
    protocolVersion: 5,
    sessionExpiry: 60,
    expiresAt: 1_000,
    userContext: undefined,
    limits: {
      maxInflightMessages: 1,
      maxOnlineMessages: 1,
      maxOfflineMessages: 1,
      maxOnlineBytes: 0,
      maxOfflineBytes: 0,
      maxIncomingPacketSize: 0,
      maxMessageRate: 0,
      receiveMaximum: 1,
      topicAliasMaximum: 0,
      upgradeQos: false,
      retryInterval: 20,
    },
    subscriptions: [],
    inflight: [],
    queued: [],
    awaitingRelease: [],
  });

  test('saves and removals are staged and take effect together at commit; a later save replaces the record', () => {
    const store = new MemorySessionStore();
    store.save(record('a'));
    store.save(record('b'));
    store.save(record('a', 'pool'));
    assert.deepEqual(store.load(), []);
    store.commit();
    assert.deepEqual(
      store
        .load()
        .map((r) => `${r.pool}/${r.clientId}`)
        .sort(),
      ['/a', '/b', 'pool/a'],
    );
    const replaced = { ...record('a'), sessionExpiry: 120 };
    store.save(replaced);
    store.remove('', 'b');
    assert.equal(store.load().length, 3, 'nothing changes before the commit');
    store.commit();
    assert.deepEqual(
      store
        .load()
        .map((r) => `${r.pool}/${r.clientId}`)
        .sort(),
      ['/a', 'pool/a'],
    );
    assert.equal(store.load().find((r) => r.pool === '' && r.clientId === 'a')?.sessionExpiry, 120);
  });
});
