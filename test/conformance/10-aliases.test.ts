/**
 * Conformance, Topic Aliases (spec 3.3.2.3.4, 3.1.2.11.5, 3.2.2.3.8), MQTT
 * 5.0 only: aliases from the client up to our Topic Alias Maximum (0x94 over
 * it or for 0, 0x82 for an unknown one), aliases towards a client that
 * advertises a Topic Alias Maximum (never above it, reused least recently
 * used first), none towards one that does not, and no alias outliving its
 * connection. Raw clients, and mqtt.js end to end. Two brokers: defaults
 * (topicAliasMaximum 10), and topicAliasMaximum 0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessages, uniqueId, WAIT_MS, withBound } from '../helpers/clients.js';
import { type RawClient } from '../helpers/raw-client.js';
import { connectRaw, expectServerClose, publish, receive, subscribe, topic } from './support.js';

const b = brokerForSuite();
const none = brokerForSuite({ topicAliasMaximum: 0 });

/** Receives `count` PUBLISHes and resolves their topics as a client keeping an alias table would. */
async function receiveAliased(
  client: RawClient,
  count: number,
  table = new Map<number, string>(),
): Promise<{ topics: string[]; packets: IPublishPacket[] }> {
  const topics: string[] = [];
  const packets: IPublishPacket[] = [];
  for (let i = 0; i < count; i++) {
    const p = await receive(client);
    packets.push(p);
    const alias = p.properties?.topicAlias;
    if (alias === undefined) {
      topics.push(p.topic);
      continue;
    }
    if (p.topic !== '') table.set(alias, p.topic);
    const resolved = table.get(alias);
    assert.ok(resolved !== undefined, `alias ${alias} used before it was defined`);
    topics.push(resolved);
  }
  return { topics, packets };
}

describe('10 topic aliases (MQTT 5.0)', () => {
  test('[MQTT-3.3.2-12] an alias the client defines is accepted, then stands for its topic; redefining it changes the topic', async () => {
    const [t1, t2] = [topic('alias'), topic('alias')];
    const sub = await connectRaw(b.port, 5);
    await subscribe(sub, [
      { topic: t1, qos: 1 },
      { topic: t2, qos: 1 },
    ]);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t1, 'define', 1, { properties: { topicAlias: 10 } });
    await publish(pub, '', 'use', 1, { properties: { topicAlias: 10 } });
    await publish(pub, t2, 'redefine', 1, { properties: { topicAlias: 10 } });
    await publish(pub, '', 'use-again', 1, { properties: { topicAlias: 10 } });
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await receive(sub));
    assert.deepEqual(
      got.map((p) => [p.topic, p.payload.toString()]),
      [
        [t1, 'define'],
        [t1, 'use'],
        [t2, 'redefine'],
        [t2, 'use-again'],
      ],
    );
    assert.ok(
      got.every((p) => p.properties?.topicAlias === undefined),
      'the subscriber did not ask for aliases',
    );
  });

  test('[MQTT-3.3.2-9] an alias above our Topic Alias Maximum is a DISCONNECT 0x94', async () => {
    const c = await connectRaw(b.port, 5);
    await publish(c, topic('over'), 'x', 0, { properties: { topicAlias: 11 } });
    await expectServerClose(c, 5, 0x94);
  });

  test('[MQTT-3.3.2-8] alias 0 is a DISCONNECT 0x94', async () => {
    const c = await connectRaw(b.port, 5);
    await publish(c, topic('zero'), 'x', 0, { properties: { topicAlias: 0 } });
    await expectServerClose(c, 5, 0x94);
  });

  test('§3.3.2.3.4 an empty topic with an alias the connection never defined is a Protocol Error (0x82)', async () => {
    const c = await connectRaw(b.port, 5);
    await publish(c, '', 'x', 0, { properties: { topicAlias: 3 } });
    await expectServerClose(c, 5, 0x82);
  });

  test('[MQTT-3.3.2-7] an alias does not carry over to the next connection of the session', async () => {
    const clientId = uniqueId('alias');
    const fields = { clientId, clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connectRaw(b.port, 5, fields);
    await publish(first, topic('carry'), 'define', 1, { properties: { topicAlias: 1 } });
    first.disconnect();
    await first.expectClose();
    const second = await connectRaw(b.port, 5, fields);
    await publish(second, '', 'use', 0, { properties: { topicAlias: 1 } });
    await expectServerClose(second, 5, 0x82);
  });

  test('[MQTT-3.2.2-17] [MQTT-3.2.2-18] with topicAliasMaximum 0 the CONNACK says 0 and any alias is a DISCONNECT 0x94', async () => {
    const c = await connectRaw(none.port, 5);
    assert.equal(c.connack.properties?.topicAliasMaximum, 0);
    await publish(c, topic('none'), 'x', 0, { properties: { topicAlias: 1 } });
    await expectServerClose(c, 5, 0x94);
  });

  test('[MQTT-3.1.2-26] [MQTT-3.3.2-11] towards a client with Topic Alias Maximum 2, aliases stay within 1..2, repeat topics go without their name, and the least recently used alias is reused', async () => {
    const base = topic('out');
    const sub = await connectRaw(b.port, 5, { properties: { topicAliasMaximum: 2 } });
    await subscribe(sub, [{ topic: `${base}/+`, qos: 1 }]);
    const pub = await connectRaw(b.port, 5);
    const sequence = ['a', 'a', 'b', 'a', 'c', 'a', 'b', 'c'].map((l) => `${base}/${l}`);
    for (const t of sequence) await publish(pub, t, t, 1);
    const { topics, packets } = await receiveAliased(sub, sequence.length);
    assert.deepEqual(topics, sequence);
    assert.deepEqual(
      packets.map((p) => p.payload.toString()),
      sequence,
    );
    for (const p of packets) {
      const alias = p.properties?.topicAlias ?? 0;
      assert.ok(alias >= 1 && alias <= 2, `alias ${alias}`);
    }
    assert.equal(packets[1]?.topic, '', 'a repeated topic travels as its alias alone');
    // 'c' takes over the alias of 'b' (least recently used), so 'a' stays known.
    assert.equal(packets[5]?.topic, '', `${describeAliases(packets)}`);
  });

  test('[MQTT-3.1.2-27] a client without a Topic Alias Maximum never gets an alias', async () => {
    const t = topic('noalias');
    const sub = await connectRaw(b.port, 5);
    await subscribe(sub, t);
    const pub = await connectRaw(b.port, 5);
    for (let i = 0; i < 3; i++) await publish(pub, t, 'x', 1);
    for (let i = 0; i < 3; i++) {
      const p = await receive(sub);
      assert.equal(p.topic, t);
      assert.equal(p.properties?.topicAlias, undefined);
    }
  });

  test('[MQTT-3.3.2-7] aliases towards the client start afresh on each connection', async () => {
    const t = topic('fresh');
    const clientId = uniqueId('fresh');
    const fields = { clientId, clean: false, properties: { sessionExpiryInterval: 60, topicAliasMaximum: 5 } };
    const pub = await connectRaw(b.port, 5);
    const first = await connectRaw(b.port, 5, fields);
    await subscribe(first, [{ topic: t, qos: 1 }]);
    await publish(pub, t, 'one', 1);
    assert.equal((await receive(first)).topic, t);
    first.disconnect();
    await first.expectClose();
    const second = await connectRaw(b.port, 5, fields);
    await publish(pub, t, 'two', 1);
    const p = await receive(second);
    assert.equal(p.topic, t, 'the first use of an alias on a connection carries the topic');
  });

  test('mqtt.js end to end: a publisher assigning aliases and a subscriber receiving them see the right topics', async () => {
    const base = topic('mqttjs');
    const sub = await connectClient(b.port, { version: 5, properties: { topicAliasMaximum: 3 } });
    await sub.subscribeAsync(`${base}/#`, { qos: 1 });
    const sequence = ['x', 'y', 'x', 'z', 'w', 'x', 'y'].map((l) => `${base}/${l}`);
    // mqtt.js resolves aliases before its 'message' event (the test helper records raw packets).
    const resolved: string[] = [];
    const all = new Promise<void>((resolve) => {
      sub.on('message', (t, payload) => {
        assert.equal(payload.toString(), t);
        if (resolved.push(t) === sequence.length) resolve();
      });
    });
    const pub = await connectClient(b.port, { version: 5, autoAssignTopicAlias: true });
    for (const t of sequence) await pub.publishAsync(t, t, { qos: 1 });
    await withBound(all, WAIT_MS, 'every message');
    assert.deepEqual(resolved, sequence);
    const wire = await nextMessages(sub, sequence.length);
    assert.ok(
      wire.some((m) => m.topic === ''),
      'some messages travelled as an alias alone',
    );
  });
});

function describeAliases(packets: IPublishPacket[]): string {
  return packets.map((p) => `${p.topic || '∅'}#${p.properties?.topicAlias ?? '-'}`).join(' ');
}
