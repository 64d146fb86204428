/**
 * auth_on_register(_m5) modifiers, one test each, under MQTT 3.1.1 and 5.0
 * (the 5.0-only ones under 5.0), with the actor hosts on the main thread and
 * in two workers: subscriber_id, mountpoint, clean_session / clean_start,
 * max_message_size, max_message_rate, max_inflight_messages, upgrade_qos,
 * max_online_messages, max_offline_messages, max_online_bytes,
 * max_offline_bytes, and for 5.0
 * session_expiry_interval, receive_max, topic_alias_max, max_packet_size.
 * An invalid modifier is ignored.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import type { RegisterModifiers } from '../../src/api/hooks.js';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, once, persistent, uniqueId, uniqueTopic, VERSIONS, type Version } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import { Recorder, WORKER_COUNTS } from './support.js';

function rawPersistent(version: Version): Partial<IConnectPacket> {
  return version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
}

for (const workers of WORKER_COUNTS) {
  for (const version of VERSIONS) {
    const v5 = version === 5;
    describe(`register modifiers (${label(version)}, workers ${workers})`, () => {
      const recorder = new Recorder();
      /** Modifiers per client id, answered by auth_on_register(_m5). */
      const mods = new Map<string, RegisterModifiers>();
      recorder.answerBoth('auth_on_register', (_p, sid) => {
        const m = mods.get(sid.clientId);
        return m ? { ok: m } : 'ok';
      });
      afterEach(() => mods.clear());
      const b = brokerForSuite({ workers }, { plugins: [recorder.plugin] });

      test('subscriber_id: the session is known by the rewritten id (events, hooks, and the next CONNECT)', async () => {
        const original = uniqueId('orig');
        const rewritten = `${original}-rw`;
        mods.set(original, { subscriber_id: { mountpoint: '', clientId: rewritten } });
        const connected = once<[string]>(b.broker, 'client-connected', undefined, (id) => id === rewritten);
        const first = await connectClient(b.port, { version, clientId: original, ...persistent(version) });
        await connected;
        await recorder.waitFor('on_client_wakeup', rewritten);
        await first.subscribeAsync(uniqueTopic('sid'), { qos: 1 });
        await first.endAsync();
        const second = await connectClient(b.port, { version, clientId: original, ...persistent(version) });
        assert.equal(second.connack.sessionPresent, true, 'the rewritten id finds its session again');
      });

      test("mountpoint: sessions under different mountpoints do not see each other's messages", async () => {
        const topic = uniqueTopic('mp');
        const [a1, a2, other] = [uniqueId('mpa'), uniqueId('mpa'), uniqueId('mpb')];
        mods.set(a1, { mountpoint: 'tenant-a' });
        mods.set(a2, { mountpoint: 'tenant-a' });
        mods.set(other, { mountpoint: 'tenant-b' });
        const subA = await connectClient(b.port, { version, clientId: a1 });
        const subB = await connectClient(b.port, { version, clientId: other });
        await subA.subscribeAsync(topic, { qos: 1 });
        await subB.subscribeAsync(topic, { qos: 1 });
        const pubA = await connectClient(b.port, { version, clientId: a2 });
        await pubA.publishAsync(topic, 'for tenant a', { qos: 1 });
        assert.equal((await nextMessage(subA)).payload.toString(), 'for tenant a');
        const wake = await recorder.waitFor('on_client_wakeup', a1);
        assert.deepEqual(wake.args[0], { mountpoint: 'tenant-a', clientId: a1 });
        const pubDefault = await connectClient(b.port, { version });
        await pubDefault.publishAsync(topic, 'default mountpoint', { qos: 1 });
        await subB.publishAsync(topic, 'for tenant b', { qos: 1 });
        assert.equal(
          (await nextMessage(subB)).payload.toString(),
          'for tenant b',
          "tenant b gets only its own, not tenant a's nor the default mountpoint's",
        );
      });

      test(`${v5 ? 'clean_start' : 'clean_session'}: false keeps the session of a client that asked for a clean one`, async () => {
        const clientId = uniqueId('clean');
        const first = await connectClient(b.port, { version, clientId, ...persistent(version) });
        await first.endAsync();
        mods.set(clientId, v5 ? { clean_start: false } : { clean_session: false });
        const raw = await RawClient.connect(b.port, version);
        const connack = await raw.handshake({ clientId, clean: true, ...(v5 ? { properties: { sessionExpiryInterval: 300 } } : {}) });
        assert.equal(connack.sessionPresent, true);
      });

      test('max_message_size: a larger packet from the client closes the connection (5.0: DISCONNECT 0x95, and CONNACK tells the limit)', async () => {
        const clientId = uniqueId('mms');
        mods.set(clientId, { max_message_size: 200 });
        const raw = await RawClient.connect(b.port, version);
        const connack = await raw.handshake({ clientId });
        if (v5) assert.equal(connack.properties?.maximumPacketSize, 200);
        raw.send({ cmd: 'publish', topic: 'small', payload: Buffer.alloc(50), qos: 0, retain: false, dup: false });
        raw.send({ cmd: 'publish', topic: 'large', payload: Buffer.alloc(300), qos: 0, retain: false, dup: false });
        const closed = await raw.expectClose();
        if (v5) assert.equal((closed.packets[0] as { reasonCode?: number } | undefined)?.reasonCode, 0x95);
      });

      test(`max_message_rate: over the rate a QoS 1 publish is ${v5 ? 'refused with 0x97' : 'taken and the connection throttled'}`, async () => {
        const clientId = uniqueId('rate');
        mods.set(clientId, { max_message_rate: 1 });
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake({ clientId });
        raw.send({ cmd: 'publish', topic: 'r', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false });
        raw.send({ cmd: 'publish', topic: 'r', payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false });
        assert.equal((await raw.expectPacket('puback')).reasonCode ?? 0, 0);
        if (v5) {
          assert.equal((await raw.expectPacket('puback')).reasonCode, 0x97);
          return;
        }
        await raw.expectPacket('puback');
        const ackedAt = Date.now();
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp');
        assert.ok(Date.now() - ackedAt >= 700, 'the next packet is read once the bucket refilled (1 s at 1/s)');
        assert.equal(raw.closed, false);
      });

      test('max_message_rate 0: no rate limit for this session, as VerneMQ (beyond the broker default of rate + burst)', async () => {
        const clientId = uniqueId('rate0');
        mods.set(clientId, { max_message_rate: 0 });
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake({ clientId });
        const total = 6_100;
        for (let i = 1; i <= total; i++) {
          raw.send({ cmd: 'publish', topic: 'r0', payload: Buffer.from('x'), qos: 1, messageId: i, retain: false, dup: false });
        }
        let refused = 0;
        for (let i = 1; i <= total; i++) if (((await raw.expectPacket('puback')).reasonCode ?? 0) !== 0) refused++;
        assert.equal(refused, 0);
      });

      if (v5) {
        test('properties: a Reason String and User Properties on the CONNACK (VerneMQ m5 modifier)', async () => {
          const clientId = uniqueId('props');
          mods.set(clientId, { properties: { reasonString: 'welcome', userProperties: { tier: 'gold' } } });
          const raw = await RawClient.connect(b.port, version);
          const connack = await raw.handshake({ clientId });
          assert.equal(connack.reasonCode, 0);
          assert.equal(connack.properties?.reasonString, 'welcome');
          assert.deepEqual({ ...connack.properties?.userProperties }, { tier: 'gold' });
        });
      }

      test('max_inflight_messages: one unacknowledged message at a time', async () => {
        const clientId = uniqueId('infl');
        const topic = uniqueTopic('infl');
        mods.set(clientId, { max_inflight_messages: 1 });
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake({ clientId });
        raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
        await raw.expectPacket('suback');
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'one', { qos: 1 });
        await pub.publishAsync(topic, 'two', { qos: 1 });
        const first = await raw.expectPacket('publish');
        assert.equal(first.payload.toString(), 'one');
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp'); // 'two' was routed before this PINGREQ reached the session, and is held
        raw.send({ cmd: 'puback', messageId: first.messageId as number });
        assert.equal((await raw.expectPacket('publish')).payload.toString(), 'two');
      });

      test("upgrade_qos: a QoS 0 message goes out at the subscription's QoS 1", async () => {
        const clientId = uniqueId('upg');
        const topic = uniqueTopic('upg');
        mods.set(clientId, { upgrade_qos: true });
        const sub = await connectClient(b.port, { version, clientId });
        await sub.subscribeAsync(topic, { qos: 1 });
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'low', { qos: 0 });
        assert.equal((await nextMessage(sub)).packet.qos, 1);
      });

      /** Bytes of one queued message as maxOnlineBytes / maxOfflineBytes count them (no 5.0 properties). */
      const queuedBytes = (topic: string, payload: string): number => 200 + 2 * topic.length + Buffer.byteLength(payload);
      const pad = (text: string): string => text.padEnd(100, '.');
      const queueCaps = [
        {
          modifier: 'max_online_messages',
          online: (): RegisterModifiers => ({ max_online_messages: 1 }),
          offline: (): RegisterModifiers => ({ max_offline_messages: 1 }),
        },
        {
          modifier: 'max_online_bytes',
          online: (topic: string): RegisterModifiers => ({ max_online_bytes: Math.floor(queuedBytes(topic, pad('x')) * 1.5) }),
          offline: (topic: string): RegisterModifiers => ({ max_offline_bytes: Math.floor(queuedBytes(topic, pad('x')) * 1.5) }),
        },
      ] as const;

      for (const cap of queueCaps) {
        test(`${cap.modifier}: the queue of a connected session beyond its inflight window; the oldest is dropped`, async () => {
          const clientId = uniqueId('online');
          const topic = uniqueTopic('online');
          mods.set(clientId, { max_inflight_messages: 1, ...cap.online(topic) });
          const raw = await RawClient.connect(b.port, version);
          await raw.handshake({ clientId });
          raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
          await raw.expectPacket('suback');
          const pub = await connectClient(b.port, { version });
          for (const payload of ['inflight', 'queued-then-dropped', 'kept']) await pub.publishAsync(topic, pad(payload), { qos: 1 });
          const first = await raw.expectPacket('publish');
          assert.equal(first.payload.toString(), pad('inflight'));
          const drop = await recorder.waitFor('on_message_drop', clientId);
          assert.equal(drop.args[2], 'queue_full');
          raw.send({ cmd: 'puback', messageId: first.messageId as number });
          assert.equal((await raw.expectPacket('publish')).payload.toString(), pad('kept'));
        });

        test(`${cap.modifier.replace('online', 'offline')}: the queue of a disconnected session; the oldest is dropped`, async () => {
          const clientId = uniqueId('offq');
          const topic = uniqueTopic('offq');
          mods.set(clientId, cap.offline(topic));
          const raw = await RawClient.connect(b.port, version);
          await raw.handshake({ clientId, ...rawPersistent(version) });
          raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
          await raw.expectPacket('suback');
          raw.disconnect();
          await recorder.waitFor('on_client_offline', clientId);
          const pub = await connectClient(b.port, { version });
          await pub.publishAsync(topic, pad('first'), { qos: 1 });
          await pub.publishAsync(topic, pad('second'), { qos: 1 });
          const back = await RawClient.connect(b.port, version);
          const connack = await back.handshake({ clientId, ...rawPersistent(version) });
          assert.equal(connack.sessionPresent, true);
          assert.equal((await back.expectPacket('publish')).payload.toString(), pad('second'));
        });
      }

      test('an invalid modifier is ignored', async () => {
        const clientId = uniqueId('bad');
        mods.set(clientId, { max_inflight_messages: -1, upgrade_qos: 'yes' } as unknown as RegisterModifiers);
        const raw = await RawClient.connect(b.port, version);
        const connack = await raw.handshake({ clientId });
        assert.equal(v5 ? connack.reasonCode : connack.returnCode, 0);
      });

      if (v5) {
        test("session_expiry_interval: overrides the client's, told in CONNACK", async () => {
          const clientId = uniqueId('sei');
          mods.set(clientId, { session_expiry_interval: 5 });
          const raw = await RawClient.connect(b.port, 5);
          const connack = await raw.handshake({ clientId, properties: { sessionExpiryInterval: 300 } });
          assert.equal(connack.properties?.sessionExpiryInterval, 5);
        });

        test('receive_max: the Receive Maximum advertised, and enforced on inbound QoS 2', async () => {
          const clientId = uniqueId('rmax');
          mods.set(clientId, { receive_max: 1 });
          const raw = await RawClient.connect(b.port, 5);
          const connack = await raw.handshake({ clientId });
          assert.equal(connack.properties?.receiveMaximum, 1);
          raw.send({ cmd: 'publish', topic: 'q2', payload: Buffer.from('a'), qos: 2, messageId: 1, retain: false, dup: false });
          await raw.expectPacket('pubrec');
          raw.send({ cmd: 'publish', topic: 'q2', payload: Buffer.from('b'), qos: 2, messageId: 2, retain: false, dup: false });
          const closed = await raw.expectClose();
          assert.equal((closed.packets[0] as { reasonCode?: number } | undefined)?.reasonCode, 0x93);
        });

        test('topic_alias_max: the Topic Alias Maximum advertised, and enforced', async () => {
          const clientId = uniqueId('tam');
          mods.set(clientId, { topic_alias_max: 2 });
          const raw = await RawClient.connect(b.port, 5);
          const connack = await raw.handshake({ clientId });
          assert.equal(connack.properties?.topicAliasMaximum, 2);
          raw.send({
            cmd: 'publish',
            topic: 'ta',
            payload: Buffer.from('x'),
            qos: 0,
            retain: false,
            dup: false,
            properties: { topicAlias: 3 },
          });
          const closed = await raw.expectClose();
          assert.equal((closed.packets[0] as { reasonCode?: number } | undefined)?.reasonCode, 0x94);
        });

        test('max_packet_size: the Maximum Packet Size advertised, and enforced (DISCONNECT 0x95)', async () => {
          const clientId = uniqueId('mps');
          mods.set(clientId, { max_packet_size: 128 });
          const raw = await RawClient.connect(b.port, 5);
          const connack = await raw.handshake({ clientId });
          assert.equal(connack.properties?.maximumPacketSize, 128);
          raw.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false });
          const closed = await raw.expectClose();
          assert.equal((closed.packets[0] as { reasonCode?: number } | undefined)?.reasonCode, 0x95);
        });
      }
    });
  }
}
