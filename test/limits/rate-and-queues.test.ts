/**
 * Limits: the incoming token bucket (maxIncomingMessagesRate 1/s,
 * maxIncomingMessagesBurst 5) and maxOfflineMessages, under MQTT 3.1.1 and
 * 5.0. Each test uses a fresh clean session, hence a full bucket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPubackPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  expectNoMessage,
  nextMessages,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
} from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';

const RATE = 1;
const BURST = 5;
const MAX_OFFLINE = 3;

const b = brokerForSuite({ workers: 1, maxIncomingMessagesRate: RATE, maxIncomingMessagesBurst: BURST, maxOfflineMessages: MAX_OFFLINE });

async function drops(): Promise<{ rateLimited: number; queueFull: number }> {
  const { hosts } = await b.broker.stats();
  return {
    rateLimited: hosts.reduce((n, h) => n + h.drops.rateLimited, 0),
    queueFull: hosts.reduce((n, h) => n + h.drops.queueFull, 0),
  };
}

function publish(raw: RawClient, topic: string, qos: 0 | 1, messageId: number): void {
  raw.send(
    qos === 0
      ? { cmd: 'publish', topic, payload: Buffer.from('m'), qos: 0, retain: false, dup: false }
      : { cmd: 'publish', topic, payload: Buffer.from('m'), qos: 1, messageId, retain: false, dup: false },
  );
}

/** Publishes the bucket allows at once: the burst, plus the rate's one token (and at most one refilled meanwhile). */
const WITHIN = BURST;

for (const version of VERSIONS) {
  describe(label(version), () => {
    test(`maxIncomingMessagesRate / maxIncomingMessagesBurst: ${WITHIN} QoS 1 publishes within rate + burst are all acknowledged with 0x00`, async () => {
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      const topic = uniqueTopic('rate');
      for (let i = 1; i <= WITHIN; i++) publish(raw, topic, 1, i);
      for (let i = 1; i <= WITHIN; i++) {
        const ack = await raw.expectPacket('puback');
        assert.equal(ack.messageId, i);
        assert.equal(ack.reasonCode ?? 0, 0);
      }
    });

    if (version === 5) {
      test('maxIncomingMessagesRate: over rate + burst, QoS 1 gets PUBACK 0x97 (§3.4.2.1) and QoS 0 is dropped and counted', async () => {
        const before = await drops();
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake();
        const topic = uniqueTopic('rate');
        const total = BURST + RATE + 10;
        for (let i = 1; i <= total; i++) publish(raw, topic, 1, i);
        const codes: number[] = [];
        for (let i = 1; i <= total; i++) codes.push(((await raw.expectPacket('puback')) as IPubackPacket).reasonCode ?? 0);
        assert.ok(codes.filter((c) => c === 0).length <= BURST + RATE + 1, `acknowledged: ${codes.join(',')}`);
        assert.ok(
          codes.slice(BURST + RATE + 2).every((c) => c === 0x97),
          `codes: ${codes.join(',')}`,
        );
        for (let i = 0; i < 10; i++) publish(raw, topic, 0, 0);
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp');
        const after = await drops();
        assert.ok(after.rateLimited - before.rateLimited >= 8 + 10, `rateLimited grew by ${after.rateLimited - before.rateLimited}`);
        assert.equal(raw.closed, false, 'the client stays connected');
      });
    } else {
      test('maxIncomingMessagesRate: over rate + burst, a 3.1.1 client is throttled, not disconnected: every publish arrives and is acknowledged, its reads pause until the bucket refilled (README)', async () => {
        const sub = await connectClient(b.port, { version });
        const topic = uniqueTopic('rate');
        await sub.subscribeAsync(topic, { qos: 1 });
        const before = await drops();
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake();
        const total = BURST + RATE + 2;
        for (let i = 1; i <= total; i++) publish(raw, topic, 1, i);
        const acked: number[] = [];
        for (let i = 1; i <= total; i++) acked.push(((await raw.expectPacket('puback')) as IPubackPacket).messageId!);
        const ackedAt = Date.now();
        assert.deepEqual(
          acked,
          acked.map((_, i) => i + 1),
        );
        // Two publishes over the bucket at 1/s: nothing more is read for about 2 s.
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp', 10_000);
        const waited = Date.now() - ackedAt;
        assert.ok(waited >= 1200, `the next packet was read after ${waited} ms`);
        assert.equal(raw.closed, false, 'the client stays connected');
        const got = await nextMessages(sub, total, (m) => m.topic === topic);
        assert.equal(got.length, total);
        assert.equal((await drops()).rateLimited, before.rateLimited, 'nothing was dropped for the rate');
      });
    }

    test(`maxOfflineMessages: an offline persistent session given ${MAX_OFFLINE} + 2 QoS 1 messages gets the newest ${MAX_OFFLINE} on reconnect; the oldest are dropped and counted`, async () => {
      const clientId = uniqueId(`q${version}`);
      const topic = uniqueTopic('offline');
      const sub = await connectClient(b.port, { version, clientId, ...persistent(version) });
      await sub.subscribeAsync(topic, { qos: 1 });
      await closeClient(sub);
      const deadline = Date.now() + 5000;
      while ((await b.broker.stats()).hosts.some((h) => h.connected > 0)) {
        assert.ok(Date.now() < deadline, 'the session did not go offline');
        await new Promise((r) => setTimeout(r, 20));
      }
      const before = await drops();
      for (let i = 0; i < MAX_OFFLINE + 2; i++) await b.broker.publish({ topic, payload: `m${i}`, qos: 1 });
      const back = await connectClient(b.port, { version, clientId, ...persistent(version) });
      const got = await nextMessages(back, MAX_OFFLINE, (m) => m.topic === topic);
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['m2', 'm3', 'm4'],
      );
      await expectNoMessage(back, 100, (m) => m.topic === topic);
      const after = await drops();
      assert.equal(after.queueFull - before.queueFull, 2);
    });
  });
}
