/**
 * Conformance, QoS 2 (spec 4.3.3, 4.4): the inbound exchange delivers once
 * even when the PUBLISH is resent, the outbound exchange with PUBREL, unknown
 * packet identifiers, resending PUBREL on reconnect, distinct identifiers for
 * inflight messages, and on 5.0 a PUBREC with an error code ending the
 * exchange. MQTT 3.1.1 and 5.0 where both have the feature. One broker for
 * the file (maxInflightMessages 1, so a queued message shows a freed slot).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId, VERSIONS } from '../helpers/clients.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, publish, receive, roundTrip, subscribe, topic } from './support.js';

const b = brokerForSuite({ maxInflightMessages: 1 });

for (const version of VERSIONS) {
  describe(`07 qos2 (${label(version)})`, () => {
    test(`${rule(version, '4.3.3-2', '4.3.3-10')} a QoS 2 PUBLISH resent before PUBREL is acknowledged again but delivered once`, async () => {
      const t = topic('once');
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, [{ topic: t, qos: 0 }]);
      const pub = await connectRaw(b.port, version);
      const packet: IPublishPacket = { cmd: 'publish', topic: t, payload: 'x', qos: 2, messageId: 500, retain: false, dup: false };
      pub.send(packet);
      assert.equal((await pub.waitForPacket('pubrec')).messageId, 500);
      pub.send({ ...packet, dup: true });
      assert.equal((await pub.waitForPacket('pubrec')).messageId, 500);
      pub.send({ cmd: 'pubrel', messageId: 500 });
      assert.equal((await pub.waitForPacket('pubcomp')).messageId, 500);
      assert.equal((await receive(sub)).payload.toString(), 'x');
      await expectNoPublish(sub, pub);
    });

    test(`${rule(version, '4.3.3-1', '4.3.3-3')} outbound QoS 2: PUBLISH, then PUBREL once PUBREC arrives, done at PUBCOMP`, async () => {
      const t = topic('out');
      const sub = await connectRaw(b.port, version);
      await subscribe(sub, [{ topic: t, qos: 2 }]);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'm1', 2);
      await publish(pub, t, 'm2', 2);
      const first = await receive(sub, false);
      assert.equal(first.qos, 2);
      sub.send({ cmd: 'pubrec', messageId: first.messageId as number });
      assert.equal((await sub.waitForPacket('pubrel')).messageId, first.messageId);
      // The window (1) is still taken until PUBCOMP: m2 waits.
      await expectNoPublish(sub);
      sub.send({ cmd: 'pubcomp', messageId: first.messageId as number });
      assert.equal((await receive(sub)).payload.toString(), 'm2');
    });

    test(`${rule(version, '4.3.3-12', '4.3.3-11')} PUBREL for an unknown packet identifier still gets PUBCOMP${version === 5 ? ' (0x92, with a Reason String)' : ''}`, async () => {
      const c = await connectRaw(b.port, version);
      c.send({ cmd: 'pubrel', messageId: 4242 });
      const pubcomp = await c.waitForPacket('pubcomp');
      assert.equal(pubcomp.messageId, 4242);
      if (version === 5) {
        assert.equal(pubcomp.reasonCode, 0x92);
        assert.equal(pubcomp.properties?.reasonString, 'unknown packet identifier');
      }
    });

    test(`${rule(version, '4.4.0-1')} after PUBREC, a reconnect resends PUBREL, not the PUBLISH`, async () => {
      const t = topic('pubrel');
      const clientId = uniqueId('rel');
      const fields = version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 60 } } : { clientId, clean: false };
      const sub = await connectRaw(b.port, version, fields);
      await subscribe(sub, [{ topic: t, qos: 2 }]);
      const pub = await connectRaw(b.port, version);
      await publish(pub, t, 'x', 2);
      const p = await receive(sub, false);
      sub.send({ cmd: 'pubrec', messageId: p.messageId as number });
      await sub.waitForPacket('pubrel');
      await sub.destroy();
      const again = await connectRaw(b.port, version, fields);
      assert.equal((await again.waitForPacket('pubrel')).messageId, p.messageId);
      again.send({ cmd: 'pubcomp', messageId: p.messageId as number });
      await roundTrip(again);
      assert.equal(again.unread().filter((x) => x.cmd === 'publish').length, 0);
    });
  });
}

describe('07 qos2 (MQTT 5.0 only)', () => {
  test('[MQTT-4.4.0-2] a PUBREC with a reason code of 0x80 or more ends the exchange: no PUBREL, the slot is free', async () => {
    const t = topic('pubrec-error');
    const sub = await connectRaw(b.port, 5);
    await subscribe(sub, [{ topic: t, qos: 2 }]);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'refused', 2);
    await publish(pub, t, 'next', 2);
    const first = await receive(sub, false);
    sub.send({ cmd: 'pubrec', messageId: first.messageId as number, reasonCode: 0x80 });
    const second = await receive(sub);
    assert.equal(second.payload.toString(), 'next');
    assert.equal(sub.received.filter((p) => p.cmd === 'pubrel').length, 1, 'PUBREL only for the second message');
  });
});
