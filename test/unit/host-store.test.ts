/**
 * An actor host with a session store, driven in-process with the frames the
 * main thread would send (open, packet, deliver) over an in-thread endpoint
 * pair: the host saves a persistent session when its subscriptions change,
 * when it goes offline and when its queue or inflight messages change
 * (committed once per turn, one record per session however many messages),
 * removes it when a clean start ends it, never writes a clean session, and
 * a fresh host on the same store takes it back at start, subscribing it
 * again with the router. Socket-level restore: test/integration/session-store.test.ts;
 * on LMDB: test/persistence/sessions.test.ts.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { startFrameHost, type FrameHost } from '../helpers/frame-host.js';
import { MemorySessionStore, type SessionRecord } from '../../workers/session/session-store.js';
import type { AppMessage } from '../../src/shared/message/app-message.js';

const running: FrameHost[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

function startHost(store: MemorySessionStore): FrameHost {
  const h = startFrameHost({ plugins: { modules: [], store } });
  running.push(h);
  return h;
}

function connect(clientId: string, clean: boolean, sessionExpiryInterval: number): mqttPacket.IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean, keepalive: 0, properties: { sessionExpiryInterval } };
}

/** The store's committed record of `clientId`, once `ready` holds for it (the host commits once per turn). */
async function committed(
  store: MemorySessionStore,
  clientId: string,
  ready: (r: SessionRecord | undefined) => boolean,
): Promise<SessionRecord | undefined> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const record = store.load().find((r) => r.clientId === clientId);
    if (ready(record)) return record;
    if (Date.now() > deadline) throw new Error(`the store's record of ${clientId} did not change as expected`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('an actor host with a session store', () => {
  test('[MQTT-3.1.2-23] saves a persistent session on SUBSCRIBE and DISCONNECT, and a fresh host on the same store takes it back', async () => {
    const store = new MemorySessionStore();
    const first = startHost(store);
    first.open(1, connect('kept', false, 300));
    const connack = (await first.next(1)) as mqttPacket.IConnackPacket;
    assert.equal(connack.reasonCode, 0);
    first.packet(1, {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: 'a/+', qos: 1 }],
      properties: { subscriptionIdentifier: 3 },
    });
    assert.equal(((await first.next(1)) as mqttPacket.Packet).cmd, 'suback');
    const subscribed = await committed(store, 'kept', (r) => r?.subscriptions.length === 1);
    assert.deepEqual(
      subscribed?.subscriptions.map((s) => [s.filter, s.qos, s.subscriptionId]),
      [['a/+', 1, 3]],
    );
    assert.equal(subscribed?.sessionExpiry, 300);

    first.packet(1, { cmd: 'disconnect', reasonCode: 0 });
    const offline = await committed(store, 'kept', (r) => r !== undefined && r.expiresAt !== subscribed?.expiresAt);
    assert.ok(
      offline!.expiresAt! > Date.now() && offline!.expiresAt! <= Date.now() + 300_000,
      'the deadline is the Session Expiry Interval from the disconnect',
    );
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const second = startHost(store);
    const [restored] = await second.host.control.sessions();
    assert.deepEqual(restored, offline, 'the fresh host holds the stored session as it was');
    await new Promise((resolve) => setImmediate(resolve)); // the host's outbox flushes once per turn
    const routed = second.frames.filter((f) => f.kind === 'subscribe');
    assert.deepEqual(
      routed.map((f) => f.kind === 'subscribe' && [f.filter, f.qos, f.subscriptionId, f.sendRetained]),
      [['a/+', 1, 3, false]],
      'its subscription goes to the router again, without retained messages',
    );
    second.open(2, connect('kept', false, 300));
    const resumed = (await second.next(2)) as mqttPacket.IConnackPacket;
    assert.equal(resumed.sessionPresent, true, '[MQTT-3.2.2-2] session present');
  });

  test('[MQTT-3.1.2-4] a clean start removes the stored session', async () => {
    const store = new MemorySessionStore();
    const host = startHost(store);
    host.open(1, connect('gone', false, 300));
    await host.next(1);
    host.packet(1, { cmd: 'disconnect', reasonCode: 0 });
    await committed(store, 'gone', (r) => r !== undefined);
    host.open(2, connect('gone', true, 0));
    const connack = (await host.next(2)) as mqttPacket.IConnackPacket;
    assert.equal(connack.sessionPresent, false);
    await committed(store, 'gone', (r) => r === undefined);
  });
});

/** A MemorySessionStore that counts what the host asks of it. */
class CountingStore extends MemorySessionStore {
  saves = 0;
  removes = 0;
  commits = 0;

  override save(record: SessionRecord): void {
    this.saves++;
    super.save(record);
  }

  override saveMessages(pool: string, clientId: string, messages: Pick<SessionRecord, 'inflight' | 'queued'>): void {
    this.saves++;
    super.saveMessages(pool, clientId, messages);
  }

  override remove(pool: string, clientId: string): void {
    this.removes++;
    super.remove(pool, clientId);
  }

  override commit(): void {
    this.commits++;
    super.commit();
  }

  /** What the store had committed when the host closed it, per close. */
  readonly closedWith: string[][] = [];

  close(): void {
    this.closedWith.push(this.load().map((r) => r.clientId));
  }
}

function message(topic: string, payload: string): AppMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false };
}

/** The sid the host gave the session that subscribed `filter` (from its subscribe frame). */
function sidOf(h: FrameHost, filter: string): number {
  const frame = h.frames.find((f) => f.kind === 'subscribe' && f.filter === filter);
  assert.ok(frame?.kind === 'subscribe', `a subscribe frame for ${filter}`);
  return frame.sid;
}

describe('an actor host with a session store: queue durability', () => {
  test('messages queued for an offline persistent session are saved in the turn they arrive: one record and one commit for the whole batch', async () => {
    const store = new CountingStore();
    const host = startHost(store);
    host.open(1, connect('queued', false, 300));
    await host.next(1);
    host.packet(1, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q/#', qos: 1 }] });
    await host.next(1);
    host.packet(1, { cmd: 'disconnect', reasonCode: 0 });
    assert.equal(await host.next(1), 'end');
    await committed(store, 'queued', (r) => r?.subscriptions.length === 1);
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve)); // the turn's commit is made
    const sid = sidOf(host, 'q/#');
    const before = { saves: store.saves, commits: store.commits };

    for (let i = 0; i < 5; i++) host.deliver(message('q/a', `m${i}`), [{ sid, qos: 1, retain: false, subscriptionIds: [] }]);
    const record = await committed(store, 'queued', (r) => r?.queued.length === 5);
    assert.deepEqual(
      record!.queued.map((o) => o.message.payload.toString()),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    assert.equal(store.saves - before.saves, 1, 'one record for the five messages of the batch');
    assert.equal(store.commits - before.commits, 1, 'one commit for the batch');

    // The client comes back: the queue moves inflight, the PUBACKs empty it; each change is saved.
    host.open(2, connect('queued', false, 300));
    assert.equal(((await host.next(2)) as mqttPacket.IConnackPacket).sessionPresent, true);
    const sent: mqttPacket.IPublishPacket[] = [];
    for (let i = 0; i < 5; i++) sent.push((await host.next(2)) as mqttPacket.IPublishPacket);
    await committed(store, 'queued', (r) => r?.queued.length === 0 && r.inflight.length === 5);
    for (const p of sent) host.packet(2, { cmd: 'puback', messageId: p.messageId! });
    await committed(store, 'queued', (r) => r?.inflight.length === 0);
  });

  test('a clean session never reaches the store, whatever it receives', async () => {
    const store = new CountingStore();
    const host = startHost(store);
    host.open(1, connect('clean', true, 0));
    await host.next(1);
    host.packet(1, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'c/#', qos: 2 }] });
    await host.next(1);
    await new Promise((resolve) => setImmediate(resolve));
    const sid = sidOf(host, 'c/#');
    host.deliver({ ...message('c/a', 'x'), qos: 2 }, [{ sid, qos: 2, retain: false, subscriptionIds: [] }]);
    const publish = (await host.next(1)) as mqttPacket.IPublishPacket;
    host.packet(1, { cmd: 'pubrec', messageId: publish.messageId! });
    assert.equal(((await host.next(1)) as mqttPacket.Packet).cmd, 'pubrel');
    host.packet(1, { cmd: 'pubcomp', messageId: publish.messageId! });
    host.packet(1, { cmd: 'publish', topic: 'c/b', payload: Buffer.from('in'), qos: 2, messageId: 9, retain: false, dup: false });
    assert.equal(((await host.next(1)) as mqttPacket.Packet).cmd, 'pubrec');
    host.packet(1, { cmd: 'pubrel', messageId: 9 });
    assert.equal(((await host.next(1)) as mqttPacket.Packet).cmd, 'pubcomp');
    host.packet(1, { cmd: 'disconnect', reasonCode: 0 });
    await host.next(1);
    await host.stop();
    running.splice(running.indexOf(host), 1);
    assert.deepEqual([store.saves, store.removes, store.commits], [0, 0, 0]);
    assert.deepEqual(store.closedWith, [[]], 'the store is closed once at shutdown');
  });

  test('shutdown commits the persistent sessions, then closes the store once, before it answers', async () => {
    const store = new CountingStore();
    const host = startHost(store);
    host.open(1, connect('at-shutdown', false, 300));
    await host.next(1);
    await host.host.control.shutdown();
    assert.deepEqual(store.closedWith, [['at-shutdown']]);
    await host.stop();
    running.splice(running.indexOf(host), 1);
    assert.equal(store.closedWith.length, 1);
  });
});
