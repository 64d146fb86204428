/**
 * Conformance, sessions (spec 3.1.2.4, 3.1.2.11.2, 3.14.2.2.2, 4.1, 4.4):
 * clean start, resumption with subscriptions and queued messages, redelivery
 * with DUP, the 5.0 Session Expiry Interval (CONNECT, DISCONNECT, and the
 * 0 → non-zero Protocol Error), and Message Expiry on queued messages with the
 * remaining lifetime forwarded. MQTT 3.1.1 and 5.0 where both have the
 * feature. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId, VERSIONS, type Version } from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, expectServerClose, publish, receive, subscribe, topic } from './support.js';

const b = brokerForSuite();

function persistent(version: Version, clientId: string, expiry = 60): Partial<IConnectPacket> {
  return version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: expiry } } : { clientId, clean: false };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

for (const version of VERSIONS) {
  describe(`05 session (${label(version)})`, () => {
    test(`${rule(version, '3.1.2-4', '3.1.2-5')} a resumed session keeps its subscriptions and gets the QoS 1/2 messages queued while offline`, async () => {
      const t = topic('resume');
      const clientId = uniqueId('res');
      const first = await connectRaw(b.port, version, persistent(version, clientId));
      await subscribe(first, [{ topic: t, qos: 2 }]);
      first.disconnect();
      await first.expectClose();
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'q0', 0);
      await publish(pub, t, 'q1', 1);
      await publish(pub, t, 'q2', 2);
      const again = await connectRaw(b.port, version, persistent(version, clientId));
      assert.equal(again.connack.sessionPresent, true);
      assert.deepEqual(
        [await receive(again), await receive(again)].map((p) => [p.payload.toString(), p.qos]),
        [
          ['q1', 1],
          ['q2', 2],
        ],
      );
      await expectNoPublish(again);
    });

    test(`${rule(version, '3.1.2-6', '3.1.2-4')} clean start discards the previous session`, async () => {
      const t = topic('clean');
      const clientId = uniqueId('cln');
      const first = await connectRaw(b.port, version, persistent(version, clientId));
      await subscribe(first, t);
      first.disconnect();
      await first.expectClose();
      const clean = await connectRaw(b.port, version, { clientId, clean: true });
      assert.equal(clean.connack.sessionPresent, false);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 1);
      await expectNoPublish(clean, pub);
    });

    test(`${rule(version, '4.4.0-1')} unacknowledged messages are resent with DUP 1 and the same packet identifier on reconnect [MQTT-3.3.1-1]`, async () => {
      const t = topic('dup');
      const clientId = uniqueId('dup');
      const first = await connectRaw(b.port, version, persistent(version, clientId));
      await subscribe(first, [{ topic: t, qos: 1 }]);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'unacked', 1);
      const original = await receive(first, false);
      assert.equal(original.dup, false);
      await first.destroy();
      const again = await connectRaw(b.port, version, persistent(version, clientId));
      const resent = await receive(again);
      assert.equal(resent.payload.toString(), 'unacked');
      assert.equal(resent.dup, true);
      assert.equal(resent.messageId, original.messageId);
    });
  });
}

describe('05 session (MQTT 5.0 only)', () => {
  test('[MQTT-3.1.2-23] Session Expiry Interval 0 (absent) ends the session when the connection closes', async () => {
    const clientId = uniqueId('exp0');
    const c = await connectRaw(b.port, 5, { clientId, clean: false });
    c.disconnect();
    await c.expectClose();
    const again = await connectRaw(b.port, 5, { clientId, clean: false });
    assert.equal(again.connack.sessionPresent, false);
  });

  test('[MQTT-4.1.0-2] the session is discarded once its Session Expiry Interval has passed', async () => {
    const clientId = uniqueId('exp1');
    const c = await connectRaw(b.port, 5, persistent(5, clientId, 1));
    c.disconnect();
    await c.expectClose();
    await sleep(1_300);
    const again = await connectRaw(b.port, 5, persistent(5, clientId, 1));
    assert.equal(again.connack.sessionPresent, false);
  });

  test('§3.14.2.2.2 the Session Expiry Interval on DISCONNECT replaces the one of CONNECT', async () => {
    const clientId = uniqueId('expd');
    const c = await connectRaw(b.port, 5, persistent(5, clientId, 300));
    c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await c.expectClose();
    const again = await connectRaw(b.port, 5, persistent(5, clientId, 300));
    assert.equal(again.connack.sessionPresent, false, 'the DISCONNECT set expiry 0: the session ended');
  });

  test('§3.14.2.2.2 a non-zero Session Expiry Interval on DISCONNECT after 0 on CONNECT is a Protocol Error (0x82)', async () => {
    const c = await connectRaw(b.port, 5, { clientId: uniqueId('exp0d') });
    c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    await expectServerClose(c, 5, 0x82);
  });

  test('[MQTT-3.3.2-5] a queued message whose Message Expiry Interval passed is not delivered; [MQTT-3.3.2-6] others carry the remaining lifetime', async () => {
    const t = topic('msgexp');
    const clientId = uniqueId('mexp');
    const first = await connectRaw(b.port, 5, persistent(5, clientId));
    await subscribe(first, [{ topic: t, qos: 1 }]);
    first.disconnect();
    await first.expectClose();
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'short', 1, { properties: { messageExpiryInterval: 1 } });
    await publish(pub, t, 'long', 1, { properties: { messageExpiryInterval: 120 } });
    await sleep(1_300);
    const again = await connectRaw(b.port, 5, persistent(5, clientId));
    const got = await receive(again);
    assert.equal(got.payload.toString(), 'long');
    const remaining = got.properties?.messageExpiryInterval ?? -1;
    assert.ok(remaining >= 115 && remaining <= 119, `remaining lifetime ${remaining}`);
    await expectNoPublish(again);
  });
});
