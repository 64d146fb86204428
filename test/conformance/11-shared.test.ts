/**
 * Conformance, shared subscriptions `$share/{group}/{filter}` (spec 4.8.2):
 * one member of a group gets each message (round-robin, sticky, random),
 * groups and ordinary subscriptions each get their copy, share name rules,
 * no retained messages, the member's granted QoS, online members first,
 * messages of a member that goes offline re-dispatched to the others (QoS 1
 * and queued ones; a QoS 2 message already sent stays with its member),
 * groups whose members live in different actor hosts, and on 5.0 No Local
 * refused. Shoal offers shared subscriptions to 3.1.1 clients too, as
 * Mosquitto does. Brokers: round-robin with maxInflightMessages 1, two
 * workers, sticky and random (these two with sessions on the main thread).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { hostFor } from '../../src/shared/placement.js';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId, VERSIONS, type Version } from '../helpers/clients.js';
import { type RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, expectServerClose, publish, receive, roundTrip, subscribe, topic } from './support.js';

const b = brokerForSuite({ maxInflightMessages: 1 });
const twoHosts = brokerForSuite({ workers: 2 });
// The strategy lives in the router (main thread): these two host their sessions there too.
const sticky = brokerForSuite({ sharedSubscriptionStrategy: 'sticky', workers: 0 });
const random = brokerForSuite({ sharedSubscriptionStrategy: 'random', workers: 0 });

function persistent(version: Version, clientId: string): Partial<IConnectPacket> {
  return version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 60 } } : { clientId, clean: false };
}

/** Connects a member and subscribes it to `share` at `qos`. */
async function member(
  port: number,
  version: Version,
  share: string,
  qos: 0 | 1 | 2 = 1,
  fields: Partial<IConnectPacket> = {},
): Promise<RawClient> {
  const c = await connectRaw(port, version, fields);
  const suback = await subscribe(c, [{ topic: share, qos }]);
  assert.deepEqual(suback.granted, [qos]);
  return c;
}

function payloads(packets: IPublishPacket[]): string[] {
  return packets.map((p) => p.payload.toString());
}

for (const version of VERSIONS) {
  describe(`11 shared subscriptions (${label(version)})`, () => {
    test('[MQTT-4.8.2-3] each message goes to one member of the group, in turn; an ordinary subscriber still gets every message', async () => {
      const t = topic('rr');
      const share = `$share/g/${t}`;
      const a = await member(b.port, version, share);
      const c = await member(b.port, version, share);
      const plain = await connectRaw(b.port, version);
      await subscribe(plain, [{ topic: t, qos: 1 }]);
      const pub = await connectRaw(b.port, version);
      for (let i = 0; i < 6; i++) await publish(pub, t, `m${i}`, 1);
      assert.deepEqual(payloads([await receive(a), await receive(a), await receive(a)]), ['m0', 'm2', 'm4']);
      assert.deepEqual(payloads([await receive(c), await receive(c), await receive(c)]), ['m1', 'm3', 'm5']);
      const all = [];
      for (let i = 0; i < 6; i++) all.push(await receive(plain));
      assert.equal(all.length, 6);
      await expectNoPublish(a, pub);
      await expectNoPublish(c, pub);
    });

    test('§4.8.2 every group with a matching filter gets its own copy', async () => {
      const t = topic('groups');
      const g1 = await member(b.port, version, `$share/one/${t}`);
      const g2 = await member(b.port, version, `$share/two/${t.split('/').slice(0, -1).join('/')}/+`);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 1);
      assert.equal((await receive(g1)).topic, t);
      assert.equal((await receive(g2)).topic, t);
    });

    test(`[MQTT-4.8.2-1] [MQTT-4.8.2-2] a malformed share name or a missing filter is refused (${version === 5 ? '0x8F' : '0x80'})`, async () => {
      const c = await connectRaw(b.port, version);
      const bad = ['$share/', '$share/g', '$share//x', '$share/g+/x', '$share/g#/x', '$share/g/'];
      const suback = await subscribe(
        c,
        bad.map((f) => ({ topic: f, qos: 0 as const })),
      );
      assert.deepEqual(
        suback.granted,
        bad.map(() => (version === 5 ? 0x8f : 0x80)),
      );
    });

    test('§3.3.1.3 retained messages are not sent for a new shared subscription', async () => {
      const t = topic('retained');
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'retained', 1, { retain: true });
      const m = await member(b.port, version, `$share/g/${t}`);
      await expectNoPublish(m, pub);
    });

    test('[MQTT-4.8.2-3] the member gets the message at its own granted QoS', async () => {
      const t = topic('qos');
      const m = await member(b.port, version, `$share/g/${t}`, 0);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 2);
      assert.equal((await receive(m)).qos, 0);
    });

    test('§4.8.2 a member that unsubscribes leaves the group: the others get every message', async () => {
      const t = topic('leave');
      const share = `$share/g/${t}`;
      const a = await member(b.port, version, share);
      const c = await member(b.port, version, share);
      a.send({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [share] });
      await a.waitForPacket('unsuback');
      const pub = await connectRaw(b.port, version);
      for (let i = 0; i < 3; i++) await publish(pub, t, `m${i}`, 1);
      assert.deepEqual(payloads([await receive(c), await receive(c), await receive(c)]), ['m0', 'm1', 'm2']);
      await expectNoPublish(a, pub);
    });

    test('§4.8.2 online members are preferred: an offline member with a session gets nothing queued while another is online', async () => {
      const t = topic('online');
      const share = `$share/g/${t}`;
      const id = uniqueId('off');
      const away = await member(b.port, version, share, 1, persistent(version, id));
      const here = await member(b.port, version, share);
      away.disconnect();
      await away.expectClose();
      const pub = await connectRaw(b.port, version);
      for (let i = 0; i < 4; i++) await publish(pub, t, `m${i}`, 1);
      const got = [];
      for (let i = 0; i < 4; i++) got.push(await receive(here));
      assert.deepEqual(payloads(got), ['m0', 'm1', 'm2', 'm3']);
      const back = await connectRaw(b.port, version, persistent(version, id));
      assert.equal(back.connack.sessionPresent, true);
      await expectNoPublish(back, pub);
    });

    test("§4.8.2 with every member offline, messages wait in a member's session", async () => {
      const t = topic('alloffline');
      const id = uniqueId('wait');
      const only = await member(b.port, version, `$share/g/${t}`, 1, persistent(version, id));
      only.disconnect();
      await only.expectClose();
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'kept', 1);
      const back = await connectRaw(b.port, version, persistent(version, id));
      assert.equal((await receive(back)).payload.toString(), 'kept');
    });

    test('§4.8.2 a member that goes offline hands its unacknowledged QoS 1 and its queued messages to another member', async () => {
      const t = topic('redispatch');
      const share = `$share/g/${t}`;
      const id = uniqueId('gone');
      const gone = await member(b.port, version, share, 2, persistent(version, id));
      const stays = await member(b.port, version, share, 2);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'm1', 1); // to `gone`, never acknowledged
      await publish(pub, t, 'm2', 1); // to `stays`
      await publish(pub, t, 'm3', 2); // to `gone`, queued behind m1 (maxInflightMessages 1)
      assert.equal((await receive(gone, false)).payload.toString(), 'm1');
      assert.equal((await receive(stays)).payload.toString(), 'm2');
      await gone.destroy();
      const handed = [await receive(stays), await receive(stays)];
      assert.deepEqual(
        handed.map((p) => [p.payload.toString(), p.qos]),
        [
          ['m1', 1],
          ['m3', 2],
        ],
      );
      const back = await connectRaw(b.port, version, persistent(version, id));
      assert.equal(back.connack.sessionPresent, true);
      await expectNoPublish(back, pub);
    });

    test('§4.8.2 a member whose session ends hands its unacknowledged messages to another member', async () => {
      const t = topic('ended');
      const share = `$share/g/${t}`;
      const gone = await member(b.port, version, share, 1);
      const stays = await member(b.port, version, share, 1);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'm1', 1);
      assert.equal((await receive(gone, false)).payload.toString(), 'm1');
      await gone.destroy();
      assert.equal((await receive(stays)).payload.toString(), 'm1');
    });

    test('[MQTT-4.8.2-4] a QoS 2 message already sent stays with its member: it is resent on reconnect, not handed over [MQTT-4.8.2-5]', async () => {
      const t = topic('qos2');
      const share = `$share/g/${t}`;
      const id = uniqueId('q2');
      const first = await member(b.port, version, share, 2, persistent(version, id));
      const other = await member(b.port, version, share, 2);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'exactly-once', 2);
      const sent = await receive(first, false);
      await first.destroy();
      await expectNoPublish(other, pub);
      const back = await connectRaw(b.port, version, persistent(version, id));
      const again = await receive(back);
      assert.equal(again.payload.toString(), 'exactly-once');
      assert.equal(again.dup, true);
      assert.equal(again.messageId, sent.messageId);
    });

    test('§4.8.2 a group spans actor hosts: members on two hosts share the messages, and one going offline hands over across hosts', async () => {
      const t = topic('hosts');
      const share = `$share/g/${t}`;
      const [idA, idB] = idsOnDifferentHosts(2);
      const a = await member(twoHosts.port, version, share, 1, { clientId: idA });
      const c = await member(twoHosts.port, version, share, 1, { clientId: idB });
      const pub = await connectRaw(twoHosts.port, version);
      for (let i = 0; i < 4; i++) await publish(pub, t, `m${i}`, 1);
      assert.deepEqual(payloads([await receive(a), await receive(a)]), ['m0', 'm2']);
      assert.deepEqual(payloads([await receive(c), await receive(c)]), ['m1', 'm3']);
      await publish(pub, t, 'm4', 1);
      assert.equal((await receive(a, false)).payload.toString(), 'm4');
      await a.destroy();
      assert.equal((await receive(c)).payload.toString(), 'm4');
    });

    test('§4.8.2 sticky strategy: one member gets every message while it is online, then another takes over', async () => {
      const t = topic('sticky');
      const share = `$share/g/${t}`;
      const a = await member(sticky.port, version, share);
      const c = await member(sticky.port, version, share);
      const pub = await connectRaw(sticky.port, version);
      for (let i = 0; i < 3; i++) await publish(pub, t, `m${i}`, 1);
      assert.deepEqual(payloads([await receive(a), await receive(a), await receive(a)]), ['m0', 'm1', 'm2']);
      await expectNoPublish(c, pub);
      a.disconnect();
      await a.expectClose();
      for (let i = 3; i < 5; i++) await publish(pub, t, `m${i}`, 1);
      assert.deepEqual(payloads([await receive(c), await receive(c)]), ['m3', 'm4']);
    });

    test('§4.8.2 random strategy: every message goes to exactly one member', async () => {
      const t = topic('random');
      const share = `$share/g/${t}`;
      const members = [await member(random.port, version, share), await member(random.port, version, share)];
      const pub = await connectRaw(random.port, version);
      const count = 20;
      for (let i = 0; i < count; i++) await publish(pub, t, `m${i}`, 1);
      // Each PUBACK came after its routing, so a round trip with a member follows every PUBLISH to it.
      for (const m of members) await roundTrip(m);
      const got = members.flatMap((m) => m.unread().filter((p): p is IPublishPacket => p.cmd === 'publish'));
      assert.deepEqual(payloads(got).sort(), Array.from({ length: count }, (_, i) => `m${i}`).sort());
    });
  });
}

describe('11 shared subscriptions (MQTT 5.0 only)', () => {
  test('[MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error (DISCONNECT 0x82)', async () => {
    const c = await connectRaw(b.port, 5);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/g/${topic('nl')}`, qos: 1, nl: true }] });
    await expectServerClose(c, 5, 0x82);
    assert.equal(c.received.filter((p) => p.cmd === 'suback').length, 0);
  });

  test('[MQTT-3.3.4-3] a Subscription Identifier on a shared subscription comes with its messages', async () => {
    const t = topic('subid');
    const m = await connectRaw(b.port, 5);
    await subscribe(m, [{ topic: `$share/g/${t}`, qos: 1 }], { subscriptionIdentifier: 42 });
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'x', 1);
    assert.equal((await receive(m)).properties?.subscriptionIdentifier, 42);
  });
});

/** `count` client ids that the broker places on `count` different hosts. */
function idsOnDifferentHosts(count: number): string[] {
  const ids: string[] = [];
  const used = new Set<number>();
  while (ids.length < count) {
    const id = uniqueId('h');
    const host = hostFor('', id, count);
    if (used.has(host)) continue;
    used.add(host);
    ids.push(id);
  }
  return ids;
}
