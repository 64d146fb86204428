/**
 * Integration: the same small pub/sub round trips with sessions hosted on
 * the main thread (workers: 0), one worker, and four workers, so clients
 * spread over hosts: fan-out to 20 subscribers, fan-in from them, and a
 * persistent session resumed on its host. MQTT 3.1.1 and 5.0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import {
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

const SUBSCRIBERS = 20;

for (const workers of [0, 1, 4]) {
  describe(`workers: ${workers}`, () => {
    const b = brokerForSuite({ workers });

    for (const version of VERSIONS) {
      test(`fan-out: 1 publisher → ${SUBSCRIBERS} subscribers, QoS 0/1/2, in order (MQTT v${version})`, async () => {
        const base = uniqueTopic(`w${workers}`);
        const subs = await Promise.all(
          Array.from({ length: SUBSCRIBERS }, (_, i) => connectClient(b.port, { version, clientId: uniqueId(`s${i}`) })),
        );
        await Promise.all(subs.map((s, i) => s.subscribeAsync(i % 2 === 0 ? `${base}/#` : `${base}/+`, { qos: 2 })));
        const pub = await connectClient(b.port, { version });
        const sent: Array<[string, 0 | 1 | 2]> = [
          ['m0', 0],
          ['m1', 1],
          ['m2', 2],
          ['m3', 1],
          ['m4', 0],
          ['m5', 2],
        ];
        for (const [payload, qos] of sent) await pub.publishAsync(`${base}/x`, payload, { qos });
        await Promise.all(
          subs.map(async (s) => {
            const got = await nextMessages(s, sent.length);
            assert.deepEqual(
              got.map((m) => [m.payload.toString(), m.packet.qos]),
              sent,
              `subscriber ${s.clientId}`,
            );
          }),
        );
      });

      test(`fan-in: ${SUBSCRIBERS} publishers → 1 subscriber (MQTT v${version})`, async () => {
        const topic = uniqueTopic(`in${workers}`);
        const collector = await connectClient(b.port, { version });
        await collector.subscribeAsync(topic, { qos: 1 });
        const pubs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => connectClient(b.port, { version })));
        await Promise.all(pubs.map((p, i) => p.publishAsync(topic, `from-${i}`, { qos: 1 })));
        const got = await nextMessages(collector, SUBSCRIBERS);
        assert.deepEqual(got.map((m) => m.payload.toString()).sort(), Array.from({ length: SUBSCRIBERS }, (_, i) => `from-${i}`).sort());
      });

      test(`a persistent session resumes with its subscription and queued message (MQTT v${version})`, async () => {
        const topic = uniqueTopic(`res${workers}`);
        const clientIds = Array.from({ length: 6 }, (_, i) => uniqueId(`p${i}`));
        const observer = await connectClient(b.port, { version });
        await observer.subscribeAsync(topic, { qos: 1 });
        for (const clientId of clientIds) {
          const c = await connectClient(b.port, { version, clientId, ...persistent(version) });
          await c.subscribeAsync(topic, { qos: 1 });
          const gone = once<[string, unknown]>(b.broker, 'client-disconnected', 5_000, (id) => id === clientId);
          await closeClient(c);
          await gone;
        }
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'queued', { qos: 1 });
        await nextMessage(observer);
        for (const clientId of clientIds) {
          const again = await connectClient(b.port, { version, clientId, ...persistent(version) });
          assert.equal(again.connack.sessionPresent, true, clientId);
          assert.equal((await nextMessage(again)).payload.toString(), 'queued', clientId);
        }
      });
    }
  });
}
