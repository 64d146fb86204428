/**
 * Integration: Will Messages — published when the connection ends without a
 * normal DISCONNECT (socket dropped, keepalive expiry, protocol error), not
 * published after DISCONNECT, retained when asked — under MQTT 3.1.1 and
 * 5.0, plus 5.0's DISCONNECT 0x04 and Will Delay Interval. One broker, one
 * worker, so a session's events and its will reach the router in order.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
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

const b = brokerForSuite({ workers: 1 });

interface WillSetup {
  topic: string;
  sub: TestClient;
  raw: RawClient;
  clientId: string;
}

async function withWill(
  version: Version,
  will: Partial<NonNullable<IConnectPacket['will']>> = {},
  fields: Partial<IConnectPacket> = {},
): Promise<WillSetup> {
  const topic = uniqueTopic('will');
  const sub = await connectClient(b.port, { version });
  await sub.subscribeAsync(topic, { qos: 2 });
  const clientId = uniqueId('willer');
  const raw = await RawClient.connect(b.port, version);
  const connack = await raw.handshake({
    clientId,
    will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false, ...will },
    ...fields,
  });
  assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0);
  return { topic, sub, raw, clientId };
}

for (const version of VERSIONS) {
  describe(`wills (${label(version)})`, () => {
    test('[MQTT-3.1.2-8] the will is published when the socket is dropped without DISCONNECT', async () => {
      const { sub, raw, topic } = await withWill(version);
      await raw.destroy();
      const m = await nextMessage(sub);
      assert.equal(m.topic, topic);
      assert.equal(m.payload.toString(), 'gone');
      assert.equal(m.packet.qos, 1);
      assert.equal(m.packet.retain, false);
    });

    test(`[MQTT-3.1.2-8] the will is published when the server closes the connection for a keepalive timeout`, async () => {
      const { sub } = await withWill(version, {}, { keepalive: 1 });
      const m = await nextMessage(sub, undefined, 5_000);
      assert.equal(m.payload.toString(), 'gone');
    });

    test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a protocol error (second CONNECT)', async () => {
      const { sub, raw, clientId } = await withWill(version);
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0 });
      await raw.expectClose();
      const m = await nextMessage(sub);
      assert.equal(m.payload.toString(), 'gone');
    });

    test(`${rule(version, '3.1.2-10', '3.14.4-3')} no will after a normal DISCONNECT`, async () => {
      const { sub, raw, topic, clientId } = await withWill(version);
      const gone = once<[string, unknown]>(b.broker, 'client-disconnected', 5_000, (id) => id === clientId);
      raw.disconnect();
      await gone;
      await raw.expectClose();
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(topic, 'sentinel', { qos: 1 });
      const m = await nextMessage(sub);
      assert.equal(m.payload.toString(), 'sentinel', 'the will was published after a normal DISCONNECT');
      await expectNoMessage(sub, 200);
    });

    test(`${rule(version, '3.1.2-17', '3.1.2-15')} a will with Will Retain = 1 is published as retained`, async () => {
      const { sub, raw, topic } = await withWill(version, { retain: true, payload: Buffer.from('retained-will') });
      await raw.destroy();
      const live = await nextMessage(sub);
      assert.equal(live.payload.toString(), 'retained-will');
      const late = await connectClient(b.port, { version });
      await late.subscribeAsync(topic, { qos: 1 });
      const m = await nextMessage(late);
      assert.equal(m.payload.toString(), 'retained-will');
      assert.equal(m.packet.retain, true);
    });

    if (version === 5) {
      test('(§3.14.2.1) DISCONNECT with reason 0x04 publishes the will', async () => {
        const { sub, raw } = await withWill(5);
        raw.disconnect(0x04);
        const m = await nextMessage(sub);
        assert.equal(m.payload.toString(), 'gone');
      });

      test('(§3.1.3.2.2) the will waits for its Will Delay Interval', async () => {
        const { sub, raw } = await withWill(5, { properties: { willDelayInterval: 1 } }, { properties: { sessionExpiryInterval: 60 } });
        const closedAt = Date.now();
        await raw.destroy();
        const m = await nextMessage(sub, undefined, 5_000);
        const waited = Date.now() - closedAt;
        assert.equal(m.payload.toString(), 'gone');
        assert.ok(waited >= 900, `will published after ${waited} ms, before its 1 s delay`);
      });

      test('[MQTT-3.1.3-9] a reconnect within the Will Delay Interval cancels the will', async () => {
        const { sub, raw, clientId, topic } = await withWill(
          5,
          { properties: { willDelayInterval: 1 } },
          { properties: { sessionExpiryInterval: 60 } },
        );
        await raw.destroy();
        const again = await RawClient.connect(b.port, 5);
        const connack = await again.handshake({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
        assert.equal(connack.sessionPresent, true);
        // Past the delay: the cancelled will must not come.
        await new Promise((r) => setTimeout(r, 1_300));
        const pub = await connectClient(b.port, { version: 5 });
        await pub.publishAsync(topic, 'sentinel', { qos: 1 });
        assert.equal((await nextMessage(sub)).payload.toString(), 'sentinel', 'the will was published despite the reconnect');
        again.disconnect();
      });
    }
  });
}
