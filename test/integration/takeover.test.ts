/**
 * Integration: session takeover — a CONNECT with the client id of a
 * connected client closes the old transport (5.0: DISCONNECT 0x8E first) and
 * continues or discards the session per clean start — under MQTT 3.1.1 and
 * 5.0. One broker with two workers for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IConnectPacket, IDisconnectPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, once, uniqueId, uniqueTopic, VERSIONS, type Version } from '../helpers/clients.js';
import { describe as describePacket, RawClient, type CloseResult } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 2 });

function persistentFields(version: Version): Partial<IConnectPacket> {
  return version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
}

/** A raw client with a persistent session for `clientId`, subscribed to `topic` at QoS 1; with the CONNACK it got. */
async function persistentSubscriber(
  version: Version,
  clientId: string,
  topic: string,
): Promise<{ raw: RawClient; connack: IConnackPacket }> {
  const raw = await RawClient.connect(b.port, version);
  const connack = await raw.handshake({ clientId, ...persistentFields(version) });
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
  await raw.expectPacket('suback');
  return { raw, connack };
}

/** The old transport's end: 5.0 sees exactly one DISCONNECT 0x8E, 3.1.1 a bare close. */
function assertTakenOver(version: Version, closed: CloseResult): void {
  if (version === 5) {
    assert.equal(closed.packets.length, 1, `expected one DISCONNECT, got: ${closed.packets.map(describePacket).join('; ') || 'nothing'}`);
    const d = closed.packets[0] as IDisconnectPacket;
    assert.equal(d.cmd, 'disconnect');
    assert.equal(d.reasonCode, 0x8e, describePacket(d));
  } else {
    assert.deepEqual(closed.packets.map(describePacket), [], '3.1.1 has no server DISCONNECT');
  }
}

for (const version of VERSIONS) {
  describe(`takeover (${label(version)})`, () => {
    test(`${rule(version, '3.1.4-2', '3.1.4-3')} a second CONNECT with the same client id disconnects the first transport and continues the session`, async () => {
      const clientId = uniqueId('take');
      const topic = uniqueTopic('take');
      const { raw: first, connack: c1 } = await persistentSubscriber(version, clientId, topic);
      assert.equal(c1.sessionPresent, false);

      const connected = once<[string, Record<string, unknown>]>(b.broker, 'client-connected', 5_000, (id) => id === clientId);
      const second = await RawClient.connect(b.port, version);
      const c2 = await second.handshake({ clientId, ...persistentFields(version) });
      assert.equal(version === 5 ? c2.reasonCode : c2.returnCode, 0);
      assert.equal(c2.sessionPresent, true, `${rule(version, '3.2.2-2', '3.2.2-3')} session present after takeover`);
      assertTakenOver(version, await first.expectClose());
      await connected;

      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'to-the-new-transport', { qos: 1 });
      const p = await second.expectPacket('publish');
      assert.equal(p.payload.toString(), 'to-the-new-transport');
      assert.equal(p.qos, 1);
      second.send({ cmd: 'puback', messageId: p.messageId as number });
    });

    test(`${rule(version, '3.1.4-2', '3.1.4-3')} takeover with clean start discards the old session`, async () => {
      const clientId = uniqueId('take');
      const topic = uniqueTopic('take');
      const { raw: first } = await persistentSubscriber(version, clientId, topic);

      const second = await connectClient(b.port, { version, clientId, clean: true });
      assert.equal(second.connack.sessionPresent, false, rule(version, '3.2.2-1', '3.2.2-2'));
      assertTakenOver(version, await first.expectClose());
      const other = uniqueTopic('other');
      await second.subscribeAsync(other, { qos: 1 });
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'old-subscription', { qos: 1 });
      await pub.publishAsync(other, 'sentinel', { qos: 1 });
      assert.equal((await nextMessage(second)).payload.toString(), 'sentinel');
      await expectNoMessage(second, 100);
    });

    test(`${rule(version, '3.1.4-2', '3.1.4-3')} takeover of a clean session: the session ended, session present 0`, async () => {
      const clientId = uniqueId('take');
      const first = await RawClient.connect(b.port, version);
      await first.handshake({ clientId, clean: true });
      const second = await RawClient.connect(b.port, version);
      const c2 = await second.handshake({ clientId, ...persistentFields(version) });
      assert.equal(c2.sessionPresent, false);
      assertTakenOver(version, await first.expectClose());
    });

    test('[MQTT-4.4.0-1] a QoS 1 message unacknowledged by the old transport is resent to the new one with DUP = 1', async () => {
      const clientId = uniqueId('take');
      const topic = uniqueTopic('take');
      const { raw: first } = await persistentSubscriber(version, clientId, topic);
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'unacked', { qos: 1 });
      const original = await first.expectPacket('publish');
      assert.equal(original.dup, false);

      const second = await RawClient.connect(b.port, version);
      const c2 = await second.handshake({ clientId, ...persistentFields(version) });
      assert.equal(c2.sessionPresent, true);
      const again = await second.expectPacket('publish');
      assert.equal(again.dup, true);
      assert.equal(again.messageId, original.messageId);
      assert.equal(again.payload.toString(), 'unacked');
      second.send({ cmd: 'puback', messageId: again.messageId as number });
      assertTakenOver(version, await first.expectClose());
    });

    test('an mqtt.js client taken over sees its connection end' + (version === 5 ? ' with DISCONNECT 0x8E' : ''), async () => {
      const clientId = uniqueId('take');
      const first = await connectClient(b.port, { version, clientId });
      const reasons: number[] = [];
      first.on('disconnect', (packet) => reasons.push(packet.reasonCode ?? 0));
      const closed = once(first, 'close', 5_000);
      await connectClient(b.port, { version, clientId });
      await closed;
      if (version === 5) assert.deepEqual(reasons, [0x8e]);
      else assert.deepEqual(reasons, []);
    });
  });
}
