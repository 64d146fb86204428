/**
 * Integration: message delivery retry on session resumption with raw
 * clients — unacknowledged QoS 1/2 PUBLISHes come again with DUP = 1 and
 * their original packet ids, an unacknowledged PUBREL comes again, and the
 * broker keeps its side of inbound QoS 2 across a reconnect (exactly once) —
 * under MQTT 3.1.1 and 5.0. One broker with two workers for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import {
  connectClient,
  expectNoMessage,
  nextMessage,
  once,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 2 });

function persistentFields(version: Version): Partial<IConnectPacket> {
  return version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
}

type Leave = 'DISCONNECT' | 'socket drop';

/** Leaves the connection as `how` and waits until the broker has the session offline. */
async function leave(raw: RawClient, clientId: string, how: Leave): Promise<void> {
  const gone = once<[string, unknown]>(b.broker, 'client-disconnected', 5_000, (id) => id === clientId);
  if (how === 'DISCONNECT') raw.disconnect();
  else await raw.destroy();
  await gone;
}

/** A raw persistent subscriber on `topic` at `qos`. */
async function subscriber(version: Version, clientId: string, topic: string, qos: 0 | 1 | 2): Promise<RawClient> {
  const raw = await RawClient.connect(b.port, version);
  const connack = await raw.handshake({ clientId, ...persistentFields(version) });
  assert.equal(connack.sessionPresent, false);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
  assert.deepEqual((await raw.expectPacket('suback')).granted, [qos]);
  return raw;
}

async function resume(version: Version, clientId: string): Promise<RawClient> {
  const raw = await RawClient.connect(b.port, version);
  const connack = await raw.handshake({ clientId, ...persistentFields(version) });
  assert.equal(connack.sessionPresent, true, 'session present on resumption');
  return raw;
}

function assertRedelivered(original: IPublishPacket, again: IPublishPacket): void {
  assert.equal(again.dup, true, '[MQTT-3.3.1-1] DUP must be 1 on redelivery');
  assert.equal(again.messageId, original.messageId, '[MQTT-4.4.0-1] original packet id');
  assert.equal(again.qos, original.qos);
  assert.equal(again.topic, original.topic);
  assert.equal(again.payload.toString(), original.payload.toString());
}

for (const version of VERSIONS) {
  describe(`redelivery (${label(version)})`, () => {
    // The file-level afterEach closes every mqtt.js client: a publisher is (re)connected on demand.
    let pub: TestClient | undefined;
    async function publisher(): Promise<TestClient> {
      if (!pub?.connected) pub = await connectClient(b.port, { version, clientId: uniqueId('redpub') });
      return pub;
    }

    for (const how of ['DISCONNECT', 'socket drop'] as const) {
      test(`[MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged QoS 1 PUBLISH is resent with DUP = 1 and its packet id after ${how}`, async () => {
        const clientId = uniqueId('red1');
        const topic = uniqueTopic('red1');
        const raw = await subscriber(version, clientId, topic, 1);
        await (await publisher()).publishAsync(topic, 'please-ack', { qos: 1 });
        const original = await raw.expectPacket('publish');
        assert.equal(original.dup, false);
        await leave(raw, clientId, how);

        const again = await resume(version, clientId);
        assertRedelivered(original, await again.expectPacket('publish'));
        again.send({ cmd: 'puback', messageId: original.messageId as number });
        await leave(again, clientId, 'DISCONNECT');

        // Acknowledged now: a third connection gets only new traffic.
        const third = await resume(version, clientId);
        await (await publisher()).publishAsync(topic, 'new', { qos: 1 });
        const next = await third.expectPacket('publish');
        assert.equal(next.payload.toString(), 'new', 'an acknowledged message was resent');
        assert.equal(next.dup, false);
      });
    }

    test('[MQTT-4.4.0-1] several unacknowledged QoS 1 PUBLISHes are resent in their original order', async () => {
      const clientId = uniqueId('redn');
      const topic = uniqueTopic('redn');
      const raw = await subscriber(version, clientId, topic, 1);
      const p = await publisher();
      for (const m of ['a', 'b', 'c']) await p.publishAsync(topic, m, { qos: 1 });
      const originals = [await raw.expectPacket('publish'), await raw.expectPacket('publish'), await raw.expectPacket('publish')];
      await leave(raw, clientId, 'socket drop');
      const again = await resume(version, clientId);
      for (const original of originals) assertRedelivered(original, await again.expectPacket('publish'));
    });

    test('[MQTT-4.4.0-1] unacknowledged QoS 2 PUBLISH (no PUBREC) is resent with DUP = 1, then completes', async () => {
      const clientId = uniqueId('red2');
      const topic = uniqueTopic('red2');
      const raw = await subscriber(version, clientId, topic, 2);
      await (await publisher()).publishAsync(topic, 'exactly-once', { qos: 2 });
      const original = await raw.expectPacket('publish');
      assert.equal(original.qos, 2);
      await leave(raw, clientId, 'socket drop');

      const again = await resume(version, clientId);
      assertRedelivered(original, await again.expectPacket('publish'));
      again.send({ cmd: 'pubrec', messageId: original.messageId as number });
      assert.equal((await again.expectPacket('pubrel')).messageId, original.messageId);
      again.send({ cmd: 'pubcomp', messageId: original.messageId as number });
      await (await publisher()).publishAsync(topic, 'after', { qos: 2 });
      assert.equal((await again.expectPacket('publish')).payload.toString(), 'after');
    });

    test(`[MQTT-4.4.0-1] ${rule(version, '4.3.3-1', '4.3.3-6')} PUBREC sent but no PUBCOMP: PUBREL is resent, not the PUBLISH`, async () => {
      const clientId = uniqueId('rel');
      const topic = uniqueTopic('rel');
      const raw = await subscriber(version, clientId, topic, 2);
      await (await publisher()).publishAsync(topic, 'released', { qos: 2 });
      const original = await raw.expectPacket('publish');
      raw.send({ cmd: 'pubrec', messageId: original.messageId as number });
      assert.equal((await raw.expectPacket('pubrel')).messageId, original.messageId);
      await leave(raw, clientId, 'DISCONNECT');

      const again = await resume(version, clientId);
      const pubrel = await again.expectPacket('pubrel');
      assert.equal(pubrel.messageId, original.messageId);
      again.send({ cmd: 'pubcomp', messageId: original.messageId as number });
      await (await publisher()).publishAsync(topic, 'next', { qos: 1 });
      const next = await again.expectPacket('publish');
      assert.equal(next.payload.toString(), 'next', 'the released PUBLISH was sent again');
    });

    test(`${rule(version, '4.3.3-2', '4.3.3-10')} inbound QoS 2: PUBLISH resent with DUP after a reconnect (before PUBREL) is not delivered twice`, async () => {
      const clientId = uniqueId('inq2');
      const topic = uniqueTopic('inq2');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 2 });
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake({ clientId, ...persistentFields(version) });
      const publish: IPublishPacket = {
        cmd: 'publish',
        topic,
        payload: Buffer.from('once-only'),
        qos: 2,
        messageId: 5,
        retain: false,
        dup: false,
      };
      raw.send(publish);
      assert.equal((await raw.expectPacket('pubrec')).messageId, 5);
      await leave(raw, clientId, 'socket drop');
      // The client never saw the PUBREC as far as it knows: it resends the PUBLISH [MQTT-4.4.0-1].
      const again = await resume(version, clientId);
      again.send({ ...publish, dup: true });
      assert.equal((await again.expectPacket('pubrec')).messageId, 5);
      again.send({ cmd: 'pubrel', messageId: 5 });
      const pubcomp = await again.expectPacket('pubcomp');
      assert.equal(pubcomp.messageId, 5);
      again.send({ cmd: 'publish', topic, payload: Buffer.from('sentinel'), qos: 1, messageId: 6, retain: false, dup: false });
      await again.expectPacket('puback');
      assert.equal((await nextMessage(sub)).payload.toString(), 'once-only');
      assert.equal((await nextMessage(sub)).payload.toString(), 'sentinel', 'the QoS 2 message was delivered twice');
    });

    test(`${rule(version, '4.3.3-2', '4.3.3-10')} inbound QoS 2: PUBREL after a reconnect completes the exchange${version === 5 ? ' (PUBCOMP 0x00, not 0x92)' : ''}`, async () => {
      const clientId = uniqueId('inrel');
      const topic = uniqueTopic('inrel');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(topic, { qos: 2 });
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake({ clientId, ...persistentFields(version) });
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('held'), qos: 2, messageId: 9, retain: false, dup: false });
      assert.equal((await raw.expectPacket('pubrec')).messageId, 9);
      await leave(raw, clientId, 'socket drop');
      const again = await resume(version, clientId);
      again.send({ cmd: 'pubrel', messageId: 9 });
      const pubcomp = await again.expectPacket('pubcomp');
      assert.equal(pubcomp.messageId, 9);
      if (version === 5) assert.equal(pubcomp.reasonCode ?? 0, 0, 'PUBCOMP 0x92: the broker forgot the inbound QoS 2 packet id');
      assert.equal((await nextMessage(sub)).payload.toString(), 'held');
      await expectNoMessage(sub, 100);
    });
  });
}
