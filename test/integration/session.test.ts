/**
 * Integration: persistent sessions — subscriptions kept across reconnects,
 * QoS 1/2 messages queued while offline (QoS 0 not), clean start discarding
 * the session, session expiry — under MQTT 3.1.1 (clean session 0) and 5.0
 * (clean start 0 with a Session Expiry Interval). One broker with two
 * workers for the file; expiry and queue-limit cases get their own broker.
 *
 * Barriers: the broker's 'client-disconnected' event says the session is
 * offline; an observer subscribed to the same topic receiving the offline
 * publishes says the router handled them before the reconnect.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite, startBroker, type TestBroker } from '../helpers/broker.js';
import {
  closeAllClients,
  closeClient,
  connectClient,
  expectNoMessage,
  nextMessage,
  nextMessages,
  once,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 2 });

/** Ends `client` with DISCONNECT and waits until the broker reports the session offline. */
async function goOffline(broker: TestBroker, client: TestClient): Promise<void> {
  const gone = once<[string, unknown]>(broker.broker, 'client-disconnected', 5_000, (id) => id === client.clientId);
  await closeClient(client);
  await gone;
}

/**
 * Connects a persistent session under a new client id subscribed to `topic`
 * at `qos`, an observer subscribed to the same topic, and a publisher; then
 * takes the session offline.
 */
async function offlineSubscriber(
  broker: TestBroker,
  version: Version,
  topic: string,
  qos: 1 | 2,
): Promise<{ clientId: string; observer: TestClient; pub: TestClient }> {
  const clientId = uniqueId('pers');
  const first = await connectClient(broker.port, { version, clientId, ...persistent(version) });
  await first.subscribeAsync(topic, { qos });
  const observer = await connectClient(broker.port, { version });
  await observer.subscribeAsync(topic, { qos });
  const pub = await connectClient(broker.port, { version });
  await goOffline(broker, first);
  return { clientId, observer, pub };
}

/** Publishes each [payload, qos] on `topic` and waits until `observer` saw them all (router barrier). */
async function publishObserved(pub: TestClient, observer: TestClient, topic: string, messages: Array<[string, 0 | 1 | 2]>): Promise<void> {
  for (const [payload, qos] of messages) await pub.publishAsync(topic, payload, { qos });
  for (const [payload] of messages) await nextMessage(observer, (m) => m.topic === topic && m.payload.toString() === payload);
}

for (const version of VERSIONS) {
  describe(`persistent sessions (${label(version)})`, () => {
    test(`${rule(version, '3.1.2-4', '3.1.2-5')} ${rule(version, '3.2.2-2', '3.2.2-3')} a persistent session keeps its subscriptions across a reconnect (session present 1)`, async () => {
      const topic = uniqueTopic('keep');
      const clientId = uniqueId('pers');
      const first = await connectClient(b.port, { version, clientId, ...persistent(version) });
      assert.equal(first.connack.sessionPresent, false, `${rule(version, '3.2.2-3', '3.2.2-3')} no session yet`);
      await first.subscribeAsync(topic, { qos: 1 });
      await goOffline(b, first);

      const again = await connectClient(b.port, { version, clientId, ...persistent(version) });
      assert.equal(again.connack.sessionPresent, true);
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'still-subscribed', { qos: 1 });
      const m = await nextMessage(again);
      assert.equal(m.payload.toString(), 'still-subscribed');
    });

    test(`${rule(version, '3.1.2-5', '3.1.2-23')} QoS 1 and 2 messages published while offline are delivered on reconnect, in order; QoS 0 is not queued (§4.1: optional, broker policy)`, async () => {
      const topic = uniqueTopic('queue');
      const { clientId, observer, pub } = await offlineSubscriber(b, version, topic, 2);

      await publishObserved(pub, observer, topic, [
        ['one', 1],
        ['zero', 0],
        ['two', 2],
        ['three', 1],
      ]);

      const again = await connectClient(b.port, { version, clientId, ...persistent(version) });
      assert.equal(again.connack.sessionPresent, true);
      const got = await nextMessages(again, 3);
      assert.deepEqual(
        got.map((m) => [m.payload.toString(), m.packet.qos]),
        [
          ['one', 1],
          ['two', 2],
          ['three', 1],
        ],
      );
      await pub.publishAsync(topic, 'live', { qos: 1 });
      const next = await nextMessage(again);
      assert.equal(next.payload.toString(), 'live', 'a QoS 0 message published while offline was delivered');
    });

    test(`${rule(version, '3.1.2-6', '3.1.2-4')} ${rule(version, '3.2.2-1', '3.2.2-2')} clean start discards the session: subscriptions and queued messages`, async () => {
      const topic = uniqueTopic('discard');
      const { clientId, observer, pub } = await offlineSubscriber(b, version, topic, 1);
      await publishObserved(pub, observer, topic, [['queued-then-discarded', 1]]);

      const clean = await connectClient(b.port, { version, clientId, clean: true });
      assert.equal(clean.connack.sessionPresent, false);
      const other = uniqueTopic('other');
      await clean.subscribeAsync(other, { qos: 1 });
      await pub.publishAsync(topic, 'old-subscription', { qos: 1 });
      await pub.publishAsync(other, 'sentinel', { qos: 1 });
      const m = await nextMessage(clean);
      assert.equal(m.payload.toString(), 'sentinel', `got ${JSON.stringify(m.payload.toString())} from the discarded session`);
      await expectNoMessage(clean, 100);
      await goOffline(b, clean);

      // The clean session ended with its connection: nothing to resume.
      const after = await connectClient(b.port, { version, clientId, ...persistent(version) });
      assert.equal(after.connack.sessionPresent, false, rule(version, '3.2.2-3', '3.2.2-3'));
    });

    test('a persistent session resumed twice keeps queuing and delivering', async () => {
      const topic = uniqueTopic('twice');
      const clientId = uniqueId('pers');
      const observer = await connectClient(b.port, { version });
      await observer.subscribeAsync(topic, { qos: 1 });
      const pub = await connectClient(b.port, { version });
      let client = await connectClient(b.port, { version, clientId, ...persistent(version) });
      await client.subscribeAsync(topic, { qos: 1 });
      for (let round = 1; round <= 2; round++) {
        await goOffline(b, client);
        await publishObserved(pub, observer, topic, [[`round-${round}`, 1]]);
        client = await connectClient(b.port, { version, clientId, ...persistent(version) });
        assert.equal(client.connack.sessionPresent, true);
        assert.equal((await nextMessage(client)).payload.toString(), `round-${round}`);
      }
    });

    if (version === 5) {
      test('(§3.1.2.11.2) clean start 0 with Session Expiry Interval 0: the session ends with the connection', async () => {
        const clientId = uniqueId('pers');
        const first = await connectClient(b.port, { version, clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
        await first.subscribeAsync(uniqueTopic('exp0'), { qos: 1 });
        await goOffline(b, first);
        const again = await connectClient(b.port, { version, clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
        assert.equal(again.connack.sessionPresent, false);
      });

      test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] an expired queued message is not delivered; a live one carries the remaining Message Expiry Interval', async () => {
        const topic = uniqueTopic('mexp');
        const { clientId, observer, pub } = await offlineSubscriber(b, version, topic, 1);
        await pub.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
        await pub.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
        await nextMessage(observer, (m) => m.payload.toString() === 'short');
        await nextMessage(observer, (m) => m.payload.toString() === 'long');
        await new Promise((r) => setTimeout(r, 2_100));
        const again = await connectClient(b.port, { version, clientId, ...persistent(version) });
        const m = await nextMessage(again);
        assert.equal(m.payload.toString(), 'long', 'an expired message was delivered');
        const left = m.packet.properties?.messageExpiryInterval;
        assert.ok(left !== undefined && left < 60 && left >= 55, `remaining Message Expiry Interval ${left}`);
      });

      test('[MQTT-4.1.0-2] the session is discarded once its Session Expiry Interval has passed', async () => {
        const clientId = uniqueId('pers');
        const first = await connectClient(b.port, { version, clientId, clean: false, properties: { sessionExpiryInterval: 1 } });
        await first.subscribeAsync(uniqueTopic('exp1'), { qos: 1 });
        await goOffline(b, first);
        await new Promise((r) => setTimeout(r, 1_400));
        const again = await connectClient(b.port, { version, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
        assert.equal(again.connack.sessionPresent, false);
      });
    } else {
      test('persistentSessionExpiry ends a 3.1.1 clean-session-0 session', async () => {
        const own = await startBroker({ persistentSessionExpiry: 1 });
        try {
          const clientId = uniqueId('pers');
          const first = await connectClient(own.port, { version, clientId, clean: false });
          await first.subscribeAsync(uniqueTopic('exp1'), { qos: 1 });
          await goOffline(own, first);
          const quick = await connectClient(own.port, { version, clientId, clean: false });
          assert.equal(quick.connack.sessionPresent, true, 'resumed before expiry');
          await goOffline(own, quick);
          await new Promise((r) => setTimeout(r, 1_400));
          const late = await connectClient(own.port, { version, clientId, clean: false });
          assert.equal(late.connack.sessionPresent, false, 'resumed after persistentSessionExpiry');
        } finally {
          await closeAllClients();
          await own.close();
        }
      });
    }

    test(`${rule(version, '3.1.2-4', '3.1.2-23')} a session whose expiry is longer than a Node.js timer holds (30 days) stays after its client goes offline`, async () => {
      const thirtyDays = 30 * 24 * 3600;
      const own = await startBroker({ persistentSessionExpiry: thirtyDays, maxSessionExpiryInterval: thirtyDays });
      try {
        const clientId = uniqueId('pers');
        const first = await connectClient(own.port, { version, clientId, ...persistent(version, thirtyDays) });
        await first.subscribeAsync(uniqueTopic('long'), { qos: 1 });
        await goOffline(own, first);
        await new Promise((r) => setTimeout(r, 100));
        const again = await connectClient(own.port, { version, clientId, ...persistent(version, thirtyDays) });
        assert.equal(again.connack.sessionPresent, true, 'the session expired at once');
      } finally {
        await closeAllClients();
        await own.close();
      }
    });

    test('maxOfflineMessages bounds the offline queue (oldest dropped)', async () => {
      const own = await startBroker({ maxOfflineMessages: 3 });
      try {
        const topic = uniqueTopic('limit');
        const { clientId, observer, pub } = await offlineSubscriber(own, version, topic, 1);
        await publishObserved(
          pub,
          observer,
          topic,
          [1, 2, 3, 4, 5, 6].map((i) => [`m${i}`, 1] as [string, 1]),
        );
        const again = await connectClient(own.port, { version, clientId, ...persistent(version) });
        await pub.publishAsync(topic, 'live', { qos: 1 });
        const got: string[] = [];
        for (;;) {
          const m = (await nextMessage(again)).payload.toString();
          if (m === 'live') break;
          got.push(m);
        }
        assert.deepEqual(got, ['m4', 'm5', 'm6']);
      } finally {
        await closeAllClients();
        await own.close();
      }
    });
  });
}
