/**
 * Message hooks with an in-process plugin, under MQTT 3.1.1 and 5.0, with
 * the actor hosts on the main thread (workers 0) and in two workers:
 * auth_on_publish(_m5) (arguments, modifiers, refusals: 5.0 reason codes,
 * 3.1.1 drops), on_publish(_m5) after routing, auth_on_subscribe(_m5)
 * (rewrites, per-filter and whole refusals), on_subscribe(_m5) before the
 * SUBACK, on_unsubscribe(_m5) rewrites, on_deliver(_m5) modifiers, and the
 * order of packets and deliveries kept while a plugin answers asynchronously.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageProperties } from '../../src/shared/message/app-message.js';
import { connectClient, expectNoMessage, nextMessage, nextMessages, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import { deferred, recordedBroker, WORKER_COUNTS } from './support.js';

for (const workers of WORKER_COUNTS) {
  for (const version of VERSIONS) {
    const m5 = (hook: string): string => (version === 5 ? `${hook}_m5` : hook);
    const v5 = version === 5;

    describe(`message hooks (${label(version)}, workers ${workers})`, () => {
      const { recorder, b } = recordedBroker({ workers });

      async function pair(): Promise<{
        pub: Awaited<ReturnType<typeof connectClient>>;
        sub: Awaited<ReturnType<typeof connectClient>>;
        topic: string;
      }> {
        const topic = uniqueTopic('m');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(`${topic}/#`, { qos: 2 });
        const pub = await connectClient(b.port, { version, username: 'pat' });
        return { pub, sub, topic };
      }

      test(`${m5('auth_on_publish')} gets (username, subscriberId, qos, topic, payload, retain${v5 ? ', properties' : ''}) before routing, ${m5('on_publish')} the routed message after`, async () => {
        const { pub, sub, topic } = await pair();
        await pub.publishAsync(`${topic}/a`, 'hello', { qos: 1, ...(v5 ? { properties: { contentType: 'text/plain' } } : {}) });
        const m = await nextMessage(sub);
        assert.equal(m.payload.toString(), 'hello');
        const auth = await recorder.waitFor(m5('auth_on_publish'), pub.clientId);
        assert.deepEqual(
          auth.args.slice(0, 6).map((a) => (Buffer.isBuffer(a) ? a.toString() : a)),
          ['pat', { mountpoint: '', clientId: pub.clientId }, 1, `${topic}/a`, 'hello', false],
        );
        if (v5) assert.equal((auth.args[6] as MessageProperties).contentType, 'text/plain');
        else assert.equal(auth.args.length, 6);
        assert.deepEqual(recorder.sequence(pub.clientId, [m5('auth_on_publish'), m5('on_publish')]), [
          m5('auth_on_publish'),
          m5('on_publish'),
        ]);
      });

      test('auth_on_publish modifiers rewrite topic, payload, QoS and retain; on_publish sees the result', async () => {
        const { pub, sub, topic } = await pair();
        recorder.answerBoth('auth_on_publish', (_u, _sid, _qos, t) =>
          t === `${topic}/in` ? { ok: { topic: `${topic}/out`, payload: Buffer.from('changed'), qos: 0, retain: true } } : 'ok',
        );
        await pub.publishAsync(`${topic}/in`, 'original', { qos: 1 });
        const m = await nextMessage(sub);
        assert.equal(m.topic, `${topic}/out`);
        assert.equal(m.payload.toString(), 'changed');
        assert.equal(m.packet.qos, 0);
        const onPublish = await recorder.waitFor(m5('on_publish'), pub.clientId);
        assert.deepEqual(
          onPublish.args.slice(2, 6).map((a) => (Buffer.isBuffer(a) ? a.toString() : a)),
          [0, `${topic}/out`, 'changed', true],
        );
        const late = await connectClient(b.port, { version });
        await late.subscribeAsync(`${topic}/out`, { qos: 1 });
        const retained = await nextMessage(late);
        assert.equal(retained.packet.retain, true, 'retain set by the modifier');
        await pub.publishAsync(`${topic}/out`, '', { qos: 1, retain: true });
      });

      test('auth_on_publish modifier throttle (ms, as VerneMQ) lets the message go on and stops reading the publisher for that long', async () => {
        const topic = uniqueTopic('m');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(`${topic}/#`, { qos: 1 });
        recorder.answerBoth('auth_on_publish', (_u, _sid, _qos, t) => (t === `${topic}/slow` ? { ok: { throttle: 1000 } } : 'ok'));
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake();
        raw.send({
          cmd: 'publish',
          topic: `${topic}/slow`,
          payload: Buffer.from('held back'),
          qos: 1,
          messageId: 1,
          retain: false,
          dup: false,
        });
        await raw.expectPacket('puback');
        const ackedAt = Date.now();
        assert.equal((await nextMessage(sub)).payload.toString(), 'held back');
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp');
        const waited = Date.now() - ackedAt;
        assert.ok(waited >= 700, `the next packet was read after ${waited} ms`);
        assert.equal(raw.closed, false);
        await raw.destroy();
      });

      test("auth_on_publish modifier mountpoint publishes the message in that pool instead of the session's", async () => {
        const { pub, sub, topic } = await pair();
        const inPool: string[] = [];
        const unsubscribe = b.broker.subscribe(`${topic}/#`, (m) => inPool.push(m.payload.toString()), { pool: 'tenant-a' });
        recorder.answerBoth('auth_on_publish', (_u, _sid, _qos, t) => (t === `${topic}/moved` ? { ok: { mountpoint: 'tenant-a' } } : 'ok'));
        await pub.publishAsync(`${topic}/moved`, 'elsewhere', { qos: 1 });
        await pub.publishAsync(`${topic}/stays`, 'here', { qos: 1 });
        assert.equal((await nextMessage(sub)).payload.toString(), 'here');
        assert.deepEqual(inPool, ['elsewhere']);
        unsubscribe();
      });

      if (v5) {
        test('auth_on_publish_m5 may replace the 5.0 properties', async () => {
          const { pub, sub, topic } = await pair();
          recorder.answer('auth_on_publish_m5', () => ({ ok: { properties: { userProperties: { stamped: 'yes' } } } }));
          await pub.publishAsync(`${topic}/p`, 'x', { qos: 1, properties: { userProperties: { original: '1' } } });
          const m = await nextMessage(sub);
          assert.deepEqual({ ...m.packet.properties?.userProperties }, { stamped: 'yes' });
        });
      }

      test(
        v5
          ? "a refused publish gets PUBACK with the plugin's reason code (default 0x87) and is not routed"
          : 'a refused 3.1.1 publish is acknowledged and dropped (VerneMQ), never routed',
        async () => {
          const { sub, topic } = await pair();
          recorder.answerBoth('auth_on_publish', (_u, _sid, _qos, t) =>
            t.endsWith('/quota') ? { error: { reasonCode: 0x97 } } : t.endsWith('/next') ? 'next' : { error: 'not_allowed' },
          );
          const clientId = uniqueId('deny');
          const raw = await RawClient.connect(b.port, version);
          await raw.handshake({ clientId });
          raw.send({
            cmd: 'publish',
            topic: `${topic}/denied`,
            payload: Buffer.from('no'),
            qos: 1,
            messageId: 1,
            retain: false,
            dup: false,
          });
          const ack1 = await raw.expectPacket('puback');
          raw.send({
            cmd: 'publish',
            topic: `${topic}/quota`,
            payload: Buffer.from('no'),
            qos: 1,
            messageId: 2,
            retain: false,
            dup: false,
          });
          const ack2 = await raw.expectPacket('puback');
          raw.send({ cmd: 'publish', topic: `${topic}/next`, payload: Buffer.from('no'), qos: 2, messageId: 3, retain: false, dup: false });
          const rec3 = await raw.expectPacket('pubrec');
          if (v5) {
            assert.equal(ack1.reasonCode, 0x87);
            assert.equal(ack2.reasonCode, 0x97);
            assert.equal(rec3.reasonCode, 0x87, 'every plugin answering next is a refusal');
          } else {
            assert.equal(ack1.messageId, 1);
            assert.equal(ack2.messageId, 2);
            raw.send({ cmd: 'pubrel', messageId: 3 });
            await raw.expectPacket('pubcomp');
          }
          await expectNoMessage(sub);
          assert.deepEqual(recorder.sequence(clientId, [m5('on_publish')]), [], 'on_publish only follows a routed message');
        },
      );

      test(`${m5('auth_on_subscribe')} gets the filters; { ok: [...] } rewrites a filter and its QoS and refuses another; ${m5('on_subscribe')} runs before the SUBACK`, async () => {
        const topic = uniqueTopic('s');
        recorder.answerBoth('auth_on_subscribe', (_u, _sid, topics) => ({
          ok: topics.map((t) =>
            t.topic.endsWith('/secret') ? { topic: t.topic, qos: 'not_allowed' as const } : { topic: `${topic}/real`, qos: 0 as const },
          ),
        }));
        const clientId = uniqueId('sub');
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake({ clientId, username: 'sam' });
        raw.send({
          cmd: 'subscribe',
          messageId: 5,
          subscriptions: [
            { topic: `${topic}/alias`, qos: 2 },
            { topic: `${topic}/secret`, qos: 1 },
          ],
        });
        const suback = await raw.expectPacket('suback');
        recorder.mark('suback', clientId);
        assert.deepEqual(suback.granted, [0, v5 ? 0x87 : 0x80]);
        const auth = await recorder.waitFor(m5('auth_on_subscribe'), clientId);
        const options = v5 ? { noLocal: false, retainAsPublished: false, retainHandling: 0 } : {};
        assert.deepEqual(auth.args.slice(0, 3), [
          'sam',
          { mountpoint: '', clientId },
          [
            { topic: `${topic}/alias`, qos: 2, ...options },
            { topic: `${topic}/secret`, qos: 1, ...options },
          ],
        ]);
        const on = await recorder.waitFor(m5('on_subscribe'), clientId);
        assert.deepEqual(on.args[2], [{ topic: `${topic}/real`, qos: 0, ...options }]);
        assert.deepEqual(recorder.sequence(clientId, [m5('auth_on_subscribe'), m5('on_subscribe'), 'mark:suback']), [
          m5('auth_on_subscribe'),
          m5('on_subscribe'),
          'mark:suback',
        ]);
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(`${topic}/real`, 'via rewrite', { qos: 1 });
        const p = await raw.expectPacket('publish');
        assert.equal(p.topic, `${topic}/real`);
      });

      if (v5) {
        test('auth_on_subscribe_m5 sees the subscription options; { ok: { topics, properties } } changes them and adds a Reason String and User Properties to the SUBACK', async () => {
          const topic = uniqueTopic('s');
          recorder.answerBoth('auth_on_subscribe', (_u, _sid, topics) => ({
            ok: {
              topics: topics.map((t) => ({ ...t, noLocal: false })),
              properties: { reasonString: 'checked', userProperties: { by: 'plugin' } },
            },
          }));
          const clientId = uniqueId('subopt');
          const raw = await RawClient.connect(b.port, version);
          await raw.handshake({ clientId });
          raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic, qos: 1, nl: true, rap: true, rh: 2 }] });
          const suback = await raw.expectPacket('suback');
          assert.deepEqual(suback.granted, [1]);
          assert.equal(suback.properties?.reasonString, 'checked');
          assert.deepEqual({ ...suback.properties?.userProperties }, { by: 'plugin' });
          const auth = await recorder.waitFor('auth_on_subscribe_m5', clientId);
          assert.deepEqual(auth.args[2], [{ topic, qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }]);
          // No Local was turned off by the plugin: the client's own message comes back [MQTT-3.8.3-3].
          raw.send({ cmd: 'publish', topic, payload: Buffer.from('own'), qos: 0, retain: false, dup: false });
          assert.equal((await raw.expectPacket('publish')).payload.toString(), 'own');
        });

        test('on_unsubscribe_m5 { ok: { properties } } adds User Properties to the UNSUBACK, only for a client that asked for problem information [MQTT-3.1.2-29]', async () => {
          recorder.answerBoth('on_unsubscribe', () => ({ ok: { properties: { reasonString: 'gone', userProperties: { by: 'plugin' } } } }));
          const topic = uniqueTopic('u');
          for (const requestProblemInformation of [true, false]) {
            const raw = await RawClient.connect(b.port, version);
            await raw.handshake({ properties: { requestProblemInformation } });
            raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
            await raw.expectPacket('suback');
            raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [topic] });
            const unsuback = await raw.expectPacket('unsuback');
            if (requestProblemInformation) {
              assert.equal(unsuback.properties?.reasonString, 'gone');
              assert.deepEqual({ ...unsuback.properties?.userProperties }, { by: 'plugin' });
            } else assert.equal(unsuback.properties, undefined);
            await raw.destroy();
          }
        });
      }

      test('auth_on_subscribe answering an error refuses every filter (5.0: with its reason code)', async () => {
        recorder.answerBoth('auth_on_subscribe', () => (v5 ? { error: { reasonCode: 0x8f } } : { error: 'no' }));
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake({});
        raw.send({
          cmd: 'subscribe',
          messageId: 9,
          subscriptions: [
            { topic: 'a/b', qos: 1 },
            { topic: 'c/#', qos: 0 },
          ],
        });
        const suback = await raw.expectPacket('suback');
        assert.deepEqual(suback.granted, v5 ? [0x8f, 0x8f] : [0x80, 0x80]);
      });

      test(`${m5('on_unsubscribe')} gets the filters and may rewrite them`, async () => {
        const { pub, sub, topic } = await pair();
        recorder.answerBoth('on_unsubscribe', () => ({ ok: [`${topic}/#`] }));
        await sub.unsubscribeAsync(`${topic}/other`);
        const call = await recorder.waitFor(m5('on_unsubscribe'), sub.clientId);
        assert.deepEqual(call.args[2], [`${topic}/other`]);
        await pub.publishAsync(`${topic}/x`, 'after unsubscribe', { qos: 1 });
        await expectNoMessage(sub);
      });

      test(`${m5('on_deliver')} gets each outgoing message and may rewrite topic and payload${v5 ? ' and properties' : ''}`, async () => {
        const { pub, sub, topic } = await pair();
        recorder.answerBoth('on_deliver', (_u, sid, _qos, t, payload) =>
          sid.clientId === sub.clientId
            ? {
                ok: {
                  topic: `${t}/seen`,
                  payload: Buffer.from(`[${payload.toString()}]`),
                  ...(v5 ? { properties: { userProperties: { by: 'plugin' } } } : {}),
                },
              }
            : 'ok',
        );
        await pub.publishAsync(`${topic}/d`, 'body', { qos: 1 });
        const m = await nextMessage(sub);
        assert.equal(m.topic, `${topic}/d/seen`);
        assert.equal(m.payload.toString(), '[body]');
        if (v5) assert.deepEqual({ ...m.packet.properties?.userProperties }, { by: 'plugin' });
        const call = await recorder.waitFor(m5('on_deliver'), sub.clientId);
        assert.deepEqual(
          call.args.slice(0, 6).map((a) => (Buffer.isBuffer(a) ? a.toString() : a)),
          [undefined, { mountpoint: '', clientId: sub.clientId }, 1, `${topic}/d`, 'body', false],
        );
      });

      test('an asynchronous auth_on_publish holds the later packets of that client: routing and acknowledgements keep their order', async () => {
        const { pub, sub, topic } = await pair();
        const gate = deferred();
        recorder.answerBoth('auth_on_publish', async (_u, _sid, _qos, t) => {
          if (t.endsWith('/slow')) await gate.promise;
          return 'ok';
        });
        const acks: string[] = [];
        const first = pub.publishAsync(`${topic}/slow`, 'first', { qos: 1 }).then(() => acks.push('first'));
        const second = pub.publishAsync(`${topic}/fast`, 'second', { qos: 1 }).then(() => acks.push('second'));
        await recorder.waitFor(m5('auth_on_publish'), pub.clientId, (c) => c.args[3] === `${topic}/slow`);
        gate.resolve();
        await Promise.all([first, second]);
        assert.deepEqual(acks, ['first', 'second']);
        const got = await nextMessages(sub, 2);
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          ['first', 'second'],
        );
      });

      test('an asynchronous on_deliver holds the later deliveries of that session, in order', async () => {
        const { pub, sub, topic } = await pair();
        const gate = deferred();
        recorder.answerBoth('on_deliver', async (_u, sid, _qos, t) => {
          if (sid.clientId === sub.clientId && t.endsWith('/slow')) await gate.promise;
          return 'ok';
        });
        await pub.publishAsync(`${topic}/slow`, 'one', { qos: 1 });
        await pub.publishAsync(`${topic}/x`, 'two', { qos: 0 });
        await pub.publishAsync(`${topic}/y`, 'three', { qos: 2 });
        await recorder.waitFor(m5('on_deliver'), sub.clientId, (c) => c.args[3] === `${topic}/slow`);
        gate.resolve();
        const got = await nextMessages(sub, 3);
        assert.deepEqual(
          got.map((m) => m.payload.toString()),
          ['one', 'two', 'three'],
        );
      });
    });
  }
}
