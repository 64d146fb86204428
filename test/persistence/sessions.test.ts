/**
 * Persistence: persistent sessions in the data directory (`dataDir`, LMDB)
 * outlive the broker and its workers. Real brokers on a temporary directory,
 * mqtt.js and raw clients over TCP, MQTT 3.1.1 and 5.0: sessions with QoS 1
 * and QoS 2 subscriptions come back with every message queued while they
 * were offline across restarts that change the worker count (0 → 2 → 1),
 * QoS 2 exactly once; an unacknowledged QoS 1 message is resent with DUP
 * after a restart; a session whose expiry passed during the downtime is gone;
 * clean sessions are never written; a worker that dies leaves the sessions
 * it committed to its replacement; the publisher's acknowledgement comes
 * only once the subscriber's record holding the message is committed. The
 * test process reads the directory's sessions sub-database directly to
 * check what is stored.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { createBroker } from '../../src/index.js';
import {
  closeAllClients,
  closeClient,
  connectClient,
  withBound,
  expectNoMessage,
  nextMessages,
  once,
  persistent,
  roundTrip,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type Received,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { closeAllRawClients, RawClient } from '../helpers/raw-client.js';
import { idOnHost } from '../helpers/placement.js';
import { label, rule } from '../helpers/spec.js';
import { hostFor } from '../../src/shared/placement.js';
import { openSessionsDb } from '../../workers/session/lmdb-session-store.js';
import { SessionMessages } from '../../workers/session/lmdb-session-messages.js';
import type { SessionRecord } from '../../workers/session/session-store.js';
import { pollFor, waitUntil } from '../helpers/wait.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-persist-'));
  dirs.push(dir);
  return dir;
}

/** Brokers a test started; closed after it whatever happened. */
const brokers: TestBroker[] = [];
afterEach(async () => {
  await closeAllClients();
  await closeAllRawClients();
  for (const b of brokers.splice(0)) await b.close();
});

async function start(dir: string, workers: number, extra: Parameters<typeof startBroker>[0] = {}): Promise<TestBroker> {
  const b = await startBroker({ workers, dataDir: dir, ...extra });
  brokers.push(b);
  return b;
}

/** Every record in the directory's sessions sub-database with its messages (held apart), as stored (expired ones too). */
async function stored(dir: string): Promise<SessionRecord[]> {
  const { root, db, messages } = openSessionsDb(dir);
  try {
    db.resetReadTxn();
    const reader = new SessionMessages();
    return Array.from(db.getRange(), ({ key, value }) => {
      const apart = reader.read(messages, Buffer.from(key as Uint8Array), () => undefined);
      return { ...value, inflight: [...value.inflight, ...apart.inflight], queued: [...value.queued, ...apart.queued] };
    });
  } finally {
    await root.close();
  }
}

/** The stored record of `clientId` once `ready` holds for it, polling the directory; bounded. */
function storedRecord(dir: string, clientId: string, ready: (r: SessionRecord) => boolean): Promise<SessionRecord> {
  return pollFor(
    async () => (await stored(dir)).find((r) => r.clientId === clientId && ready(r)),
    `a stored record of ${clientId} as expected`,
  );
}

/** Goes offline with DISCONNECT and waits until the broker has the session offline. */
async function leave(b: TestBroker, client: TestClient): Promise<void> {
  const gone = once<[string]>(b.broker, 'client-disconnected', 5_000, (id) => id === client.clientId);
  await closeClient(client);
  await gone;
}

function payloads(received: Received[]): string[] {
  return received.map((m) => m.payload.toString());
}

for (const version of VERSIONS) {
  describe(`persistent sessions in the data directory (${label(version)})`, () => {
    test(`${rule(version, '3.1.2-4', '3.1.2-5')} ${rule(version, '3.2.2-2', '3.2.2-3')} QoS 1 and QoS 2 messages queued for offline sessions survive restarts from 0 to 2 to 1 workers, QoS 2 exactly once`, async () => {
      const dir = dataDir();
      const q1 = uniqueTopic('p1');
      const q2 = uniqueTopic('p2');
      // One session on each host of the 2-worker broker: each host takes back its own.
      const ids = [idOnHost(0, 2, 'ps'), idOnHost(1, 2, 'ps')];

      const first = await start(dir, 0);
      for (const clientId of ids) {
        const sub = await connectClient(first.port, { version, clientId, ...persistent(version) });
        assert.equal(sub.connack.sessionPresent, false);
        const granted = await sub.subscribeAsync({ [q1]: { qos: 1 }, [q2]: { qos: 2 } });
        assert.deepEqual(
          granted.map((g) => g.qos),
          [1, 2],
        );
        await leave(first, sub);
      }
      const round1 = ['a', 'b', 'c'];
      const pub = await connectClient(first.port, { version });
      for (const p of round1) {
        await pub.publishAsync(q1, `q1-${p}`, { qos: 1 }); // PUBACK
        await pub.publishAsync(q2, `q2-${p}`, { qos: 2 }); // PUBCOMP
      }
      await closeClient(pub);
      await first.close();

      const second = await start(dir, 2);
      const round2 = ['d', 'e'];
      for (const clientId of ids) {
        const back = await connectClient(second.port, { version, clientId, ...persistent(version) });
        assert.equal(back.connack.sessionPresent, true, `${rule(version, '3.2.2-2', '3.2.2-3')} session present after 0 → 2 workers`);
        const got = await nextMessages(back, round1.length * 2, (m) => m.topic === q1 || m.topic === q2);
        assert.deepEqual(
          payloads(got.filter((m) => m.topic === q1)),
          round1.map((p) => `q1-${p}`),
        );
        assert.deepEqual(
          payloads(got.filter((m) => m.topic === q2)),
          round1.map((p) => `q2-${p}`),
        );
        assert.ok(got.every((m) => m.packet.qos === (m.topic === q1 ? 1 : 2)));
        await roundTrip(back); // the acknowledgements are in
        await leave(second, back);
      }
      const pub2 = await connectClient(second.port, { version });
      for (const p of round2) {
        await pub2.publishAsync(q1, `q1-${p}`, { qos: 1 });
        await pub2.publishAsync(q2, `q2-${p}`, { qos: 2 });
      }
      await closeClient(pub2);
      await second.close();

      const third = await start(dir, 1);
      const subscribers: TestClient[] = [];
      for (const clientId of ids) {
        const back = await connectClient(third.port, { version, clientId, ...persistent(version) });
        assert.equal(back.connack.sessionPresent, true, 'session present after 2 → 1 workers');
        const got = await nextMessages(back, round2.length * 2, (m) => m.topic === q1 || m.topic === q2);
        assert.deepEqual(
          payloads(got.filter((m) => m.topic === q1)),
          round2.map((p) => `q1-${p}`),
        );
        assert.deepEqual(
          payloads(got.filter((m) => m.topic === q2)),
          round2.map((p) => `q2-${p}`),
        );
        // Nothing twice: neither the first round again nor a second copy of a QoS 2 message.
        await expectNoMessage(back, 200, (m) => m.topic === q1 || m.topic === q2);
        subscribers.push(back);
      }
      // The subscriptions came back too: a new message is routed to both sessions.
      const pub3 = await connectClient(third.port, { version });
      await pub3.publishAsync(q2, 'live', { qos: 2 });
      for (const back of subscribers) {
        assert.deepEqual(payloads(await nextMessages(back, 1, (m) => m.topic === q2)), ['live']);
      }
    });

    for (const qos of [1, 2] as const) {
      test(`${rule(version, qos === 1 ? '4.3.2-2' : '4.3.3-2')} the publisher's ${qos === 1 ? 'PUBACK' : 'PUBREC'} comes only once the offline subscriber's record holding the message is committed (another worker)`, async () => {
        const dir = dataDir();
        const topic = uniqueTopic('acked');
        const subId = idOnHost(1, 2, 'held');
        const b = await start(dir, 2);
        const sub = await connectClient(b.port, { version, clientId: subId, ...persistent(version) });
        await sub.subscribeAsync(topic, { qos });
        await leave(b, sub);
        const pub = await connectClient(b.port, { version, clientId: idOnHost(0, 2, 'pub') });
        const acknowledged = new Promise<void>((resolve) =>
          pub.on('packetreceive', (packet) => {
            if (packet.cmd === (qos === 1 ? 'puback' : 'pubrec')) resolve();
          }),
        );
        pub.publish(topic, 'kept before acknowledged', { qos });
        await withBound(acknowledged, 5_000, 'the acknowledgement');
        const record = (await stored(dir)).find((r) => r.clientId === subId);
        assert.deepEqual(
          record?.queued.map((o) => Buffer.from(o.message.payload).toString()),
          ['kept before acknowledged'],
          'the queued message is in the committed record when the acknowledgement arrives',
        );
      });
    }

    test(`${rule(version, '4.4.0-1')} ${rule(version, '3.3.1-1')} an unacknowledged QoS 1 message is resent with DUP and its packet id after a restart`, async () => {
      const dir = dataDir();
      const clientId = uniqueId('pdup');
      const topic = uniqueTopic('pdup');
      const fields = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
      const first = await start(dir, 1);
      const raw = await RawClient.connect(first.port, version);
      await raw.handshake({ clientId, ...fields });
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
      await raw.expectPacket('suback');
      const pub = await connectClient(first.port, { version });
      await pub.publishAsync(topic, 'unacked', { qos: 1 });
      const original = await raw.expectPacket('publish');
      assert.equal(original.dup, false);
      // Inflight and committed while the client is still connected (the record of this turn, not the one at shutdown).
      await storedRecord(dir, clientId, (r) => r.inflight.length === 1);
      await closeClient(pub);
      await first.close();
      await raw.destroy();

      const second = await start(dir, 2);
      const again = await RawClient.connect(second.port, version);
      const connack = await again.handshake({ clientId, ...fields });
      assert.equal(connack.sessionPresent, true);
      const resent = await again.expectPacket('publish');
      assert.equal(resent.dup, true, '[MQTT-3.3.1-1] DUP = 1 on redelivery');
      assert.equal(resent.messageId, original.messageId, 'its packet id');
      assert.equal(resent.payload.toString(), 'unacked');
      again.send({ cmd: 'puback', messageId: resent.messageId! });
      await storedRecord(dir, clientId, (r) => r.inflight.length === 0);
    });

    test(`${rule(version, '3.2.2-2', '3.2.2-3')} a session whose expiry passed while the broker was down is gone at restart (session present 0) and deleted`, async () => {
      const dir = dataDir();
      const clientId = uniqueId('pexp');
      const topic = uniqueTopic('pexp');
      // 3.1.1: persistentSessionExpiry; 5.0: the client's Session Expiry Interval.
      const first = await start(dir, 1, { persistentSessionExpiry: 1 });
      const sub = await connectClient(first.port, { version, clientId, ...persistent(version, 1) });
      await sub.subscribeAsync(topic, { qos: 1 });
      await leave(first, sub);
      const { expiresAt } = await storedRecord(dir, clientId, (r) => r.expiresAt !== null);
      assert.ok(expiresAt! <= Date.now() + 1_000, 'the deadline is the expiry from the disconnect');
      await first.close();
      // The broker is down past the deadline (a bounded wait on the clock).
      const bound = Date.now() + 5_000;
      while (Date.now() <= expiresAt! + 50) {
        assert.ok(Date.now() < bound, 'the deadline passes within the bound');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const second = await start(dir, 1, { persistentSessionExpiry: 1 });
      await waitUntil(async () => !(await stored(dir)).some((r) => r.clientId === clientId), 'the expired record is deleted at load');
      const back = await connectClient(second.port, { version, clientId, ...persistent(version, 1) });
      assert.equal(back.connack.sessionPresent, false, 'no session state after its expiry');
    });

    test(`${rule(version, '3.1.2-6', '3.1.2-4')} clean sessions are never written to the data directory`, async () => {
      const dir = dataDir();
      const topic = uniqueTopic('pclean');
      const b = await start(dir, 1);
      const sub = await connectClient(b.port, { version, clean: true });
      await sub.subscribeAsync(topic, { qos: 2 });
      const pub = await connectClient(b.port, { version, clean: true });
      for (const qos of [1, 2] as const) await pub.publishAsync(topic, `m${qos}`, { qos });
      await nextMessages(sub, 2, (m) => m.topic === topic);
      await roundTrip(sub);
      await leave(b, sub);
      await closeClient(pub);
      await b.close();
      assert.deepEqual(await stored(dir), []);
    });

    test(`a worker that dies leaves the sessions it committed to its replacement (session present 1, queued messages)`, async () => {
      const dir = dataDir();
      const topic = uniqueTopic('pkill');
      const b = await start(dir, 2);
      const ids = [idOnHost(0, 2, 'pk'), idOnHost(1, 2, 'pk')];
      for (const clientId of ids) {
        const sub = await connectClient(b.port, { version, clientId, ...persistent(version) });
        await sub.subscribeAsync(topic, { qos: 1 });
        await leave(b, sub);
      }
      const sent = ['x', 'y', 'z'];
      const pub = await connectClient(b.port, { version });
      for (const p of sent) await pub.publishAsync(topic, p, { qos: 1 });
      // The queued messages are committed with their turn, not only when the host shuts down.
      for (const clientId of ids) await storedRecord(dir, clientId, (r) => r.queued.length === sent.length);

      const failed = once(b.broker, 'host-failed', 10_000);
      const threads = (b.broker as unknown as { hosts: { launcher: { threads: ReadonlyArray<Worker> } } }).hosts.launcher.threads;
      await (threads[0] as Worker).terminate();
      const [deadHost] = (await failed) as [number];
      const victim = ids.find((id) => hostFor('', id, 2) === deadHost)!;

      for (const clientId of [victim, ...ids.filter((id) => id !== victim)]) {
        const back = await connectClient(b.port, { version, clientId, ...persistent(version), timeoutMs: 10_000 });
        assert.equal(back.connack.sessionPresent, true, `session present for ${clientId === victim ? 'the dead host' : 'the other host'}`);
        assert.deepEqual(payloads(await nextMessages(back, sent.length, (m) => m.topic === topic)), sent);
      }
    });
  });
}

describe('persistent sessions in the data directory (MQTT 5.0 only)', () => {
  test('a DISCONNECT that sets Session Expiry Interval 0 ends the session and removes its record', async () => {
    const version: Version = 5;
    const dir = dataDir();
    const clientId = uniqueId('pzero');
    const b = await start(dir, 0);
    const sub = await connectClient(b.port, { version, clientId, ...persistent(version) });
    await sub.subscribeAsync(uniqueTopic('pzero'), { qos: 1 });
    await storedRecord(dir, clientId, () => true);
    const gone = once<[string]>(b.broker, 'client-disconnected', 5_000, (id) => id === clientId);
    await new Promise<void>((resolve) => sub.end(false, { properties: { sessionExpiryInterval: 0 } }, () => resolve()));
    await gone;
    await waitUntil(async () => !(await stored(dir)).some((r) => r.clientId === clientId), 'the record is removed');
  });
});

describe('a data directory that cannot be opened', () => {
  for (const workers of [0, 1]) {
    test(`makes listen() fail before any client is accepted (workers: ${workers})`, async () => {
      const file = join(dataDir(), 'a-file');
      writeFileSync(file, 'not a directory');
      const broker = createBroker({ host: '127.0.0.1', port: 0, workers, logLevel: 'silent', dataDir: join(file, 'below') });
      try {
        await assert.rejects(withBound(broker.listen(), 15_000, 'broker.listen()'), (err: Error) => !/did not complete/.test(err.message));
      } finally {
        await withBound(broker.close(), 10_000, 'broker.close()');
      }
    });
  }
});
