/**
 * Integration: outbound flow control and size limits — maxInflightMessages
 * (and a 5.0 client's Receive Maximum) bound the unacknowledged QoS 1/2
 * PUBLISHes in flight, a 5.0 client's Maximum Packet Size is respected, and
 * maxIncomingPacketSize closes the connection — under MQTT 3.1.1 and 5.0.
 * One broker for the file (maxInflightMessages 2, maxIncomingPacketSize 1024).
 *
 * Barrier for "no more PUBLISH": an observer received every message (the
 * router handled them), then the raw client's PINGREQ, which reaches its
 * session behind the deliveries, is answered.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, uniqueTopic, VERSIONS, type TestClient, type Version } from '../helpers/clients.js';
import { describe as describePacket, RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';

const MAX_INFLIGHT = 2;
const MAX_INCOMING = 1024;

const b = brokerForSuite({ workers: 2, maxInflightMessages: MAX_INFLIGHT, maxIncomingPacketSize: MAX_INCOMING });

/** PUBLISHes received so far, after a PINGREQ round trip that trails the deliveries. */
async function publishesAfterBarrier(raw: RawClient): Promise<IPublishPacket[]> {
  raw.send({ cmd: 'pingreq' });
  await raw.waitForPacket('pingresp');
  const out: IPublishPacket[] = [];
  for (const p of raw.unread()) if (p.cmd === 'publish') out.push(p);
  return out;
}

async function takePublishes(raw: RawClient, n: number): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  for (let i = 0; i < n; i++) out.push(await raw.waitForPacket('publish'));
  return out;
}

async function setup(
  version: Version,
  qos: 1 | 2,
  connectProps?: { receiveMaximum: number },
): Promise<{
  raw: RawClient;
  pub: TestClient;
  observer: TestClient;
  topic: string;
}> {
  const topic = uniqueTopic('flow');
  const raw = await RawClient.connect(b.port, version);
  await raw.handshake(connectProps ? { properties: connectProps } : {});
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
  await raw.expectPacket('suback');
  const observer = await connectClient(b.port, { version });
  await observer.subscribeAsync(topic, { qos: 0 });
  const pub = await connectClient(b.port, { version });
  return { raw, pub, observer, topic };
}

async function publishObserved(pub: TestClient, observer: TestClient, topic: string, n: number, qos: 1 | 2): Promise<void> {
  for (let i = 1; i <= n; i++) await pub.publishAsync(topic, `m${i}`, { qos });
  for (let i = 1; i <= n; i++) await nextMessage(observer, (m) => m.payload.toString() === `m${i}`);
}

for (const version of VERSIONS) {
  describe(`flow control (${label(version)})`, () => {
    test(`${version === 5 ? '[MQTT-4.9.0-2] ' : ''}at most maxInflightMessages (${MAX_INFLIGHT}) unacknowledged QoS 1 PUBLISHes; each PUBACK releases the next`, async () => {
      const { raw, pub, observer, topic } = await setup(version, 1);
      await publishObserved(pub, observer, topic, 5, 1);
      const first = await publishesAfterBarrier(raw);
      assert.deepEqual(
        first.map((p) => p.payload.toString()),
        ['m1', 'm2'],
        'inflight window exceeded',
      );
      const window = await takePublishes(raw, 2);
      raw.send({ cmd: 'puback', messageId: window[0]!.messageId as number });
      const [third] = await takePublishes(raw, 1);
      assert.equal(third!.payload.toString(), 'm3');
      assert.deepEqual((await publishesAfterBarrier(raw)).length, 0);
      for (const p of [window[1]!, third!]) raw.send({ cmd: 'puback', messageId: p.messageId as number });
      const rest = await takePublishes(raw, 2);
      assert.deepEqual(
        rest.map((p) => p.payload.toString()),
        ['m4', 'm5'],
      );
      const ids = new Set([...window, third!, ...rest].map((p) => p.messageId));
      assert.ok(!ids.has(0) && !ids.has(undefined));
    });

    test(`${version === 5 ? '[MQTT-4.9.0-2] ' : ''}QoS 2: the window frees on PUBCOMP, not on PUBREC`, async () => {
      const { raw, pub, observer, topic } = await setup(version, 2);
      await publishObserved(pub, observer, topic, 3, 2);
      const window = await takePublishes(raw, 2);
      assert.deepEqual((await publishesAfterBarrier(raw)).length, 0);
      raw.send({ cmd: 'pubrec', messageId: window[0]!.messageId as number });
      const pubrel = await raw.waitForPacket('pubrel');
      assert.equal(pubrel.messageId, window[0]!.messageId);
      assert.deepEqual((await publishesAfterBarrier(raw)).length, 0, 'window freed before PUBCOMP');
      raw.send({ cmd: 'pubcomp', messageId: window[0]!.messageId as number });
      const [third] = await takePublishes(raw, 1);
      assert.equal(third!.payload.toString(), 'm3');
    });

    if (version === 5) {
      test('[MQTT-3.3.4-9] a client Receive Maximum of 1 allows one unacknowledged PUBLISH', async () => {
        const { raw, pub, observer, topic } = await setup(5, 1, { receiveMaximum: 1 });
        await publishObserved(pub, observer, topic, 3, 1);
        const first = await publishesAfterBarrier(raw);
        assert.deepEqual(
          first.map((p) => p.payload.toString()),
          ['m1'],
        );
        const [m1] = await takePublishes(raw, 1);
        raw.send({ cmd: 'puback', messageId: m1!.messageId as number });
        const [m2] = await takePublishes(raw, 1);
        assert.equal(m2!.payload.toString(), 'm2');
      });

      test('[MQTT-3.1.2-24] a PUBLISH larger than the client Maximum Packet Size is not sent', async () => {
        const topic = uniqueTopic('mps');
        const raw = await RawClient.connect(b.port, 5);
        await raw.handshake({ properties: { maximumPacketSize: 128 } });
        raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
        await raw.expectPacket('suback');
        const pub = await connectClient(b.port, { version: 5 });
        await pub.publishAsync(topic, Buffer.alloc(300, 0x61), { qos: 1 });
        await pub.publishAsync(topic, 'small', { qos: 1 });
        const p = await raw.expectPacket('publish');
        assert.equal(p.payload.toString(), 'small');
        assert.equal(raw.closed, false);
      });
    }

    test(`maxIncomingPacketSize: a larger packet closes the connection${version === 5 ? ' (DISCONNECT 0x95)' : ''}`, async () => {
      const topic = uniqueTopic('big');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 1 });
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({ cmd: 'publish', topic, payload: Buffer.alloc(MAX_INCOMING * 2, 0x62), qos: 1, messageId: 1, retain: false, dup: false });
      const { packets } = await raw.expectClose();
      for (const p of packets) {
        assert.equal(version, 5, describePacket(p));
        assert.equal(p.cmd, 'disconnect');
        assert.equal((p as IDisconnectPacket).reasonCode, 0x95, 'Packet too large');
      }
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'sentinel', { qos: 1 });
      assert.equal((await nextMessage(sub)).payload.toString(), 'sentinel', 'the oversized PUBLISH was routed');
    });
  });
}
