/**
 * Conformance, will messages (spec 3.1.2.5 to 3.1.2.7, 3.1.3.2, 3.14.4):
 * published on an abnormal close, dropped on a normal DISCONNECT, Will Retain,
 * and on 5.0 DISCONNECT 0x04, the Will Delay Interval, its cancellation by a
 * reconnect, the session end cutting the delay short, will properties, and
 * the Payload Format Indicator of a will checked against its payload.
 * MQTT 3.1.1 and 5.0 where both have the feature. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId, VERSIONS } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, expectNoPublish, receive, subscribe, topic } from './support.js';

const b = brokerForSuite();

type Will = NonNullable<IConnectPacket['will']>;

function will(t: string, extra: Partial<Will> = {}): Will {
  return { topic: t, payload: Buffer.from('gone'), qos: 1, retain: false, ...extra };
}

async function watcher(version: 4 | 5, t: string): Promise<RawClient> {
  const w = await connectRaw(b.port, version);
  await subscribe(w, [{ topic: t, qos: 1 }]);
  return w;
}

for (const version of VERSIONS) {
  describe(`06 will (${label(version)})`, () => {
    test(`${rule(version, '3.1.2-8')} the will is published when the connection is lost without DISCONNECT`, async () => {
      const t = topic('lost');
      const w = await watcher(version, t);
      const c = await connectRaw(b.port, version, { will: will(t) });
      await c.destroy();
      const got = await receive(w);
      assert.equal(got.payload.toString(), 'gone');
      assert.equal(got.qos, 1);
    });

    test(`${rule(version, '3.1.2-10', '3.14.4-3')} a normal DISCONNECT deletes the will`, async () => {
      const t = topic('normal');
      const w = await watcher(version, t);
      const c = await connectRaw(b.port, version, { will: will(t) });
      c.disconnect();
      await c.expectClose();
      await expectNoPublish(w);
    });

    test(`${rule(version, '3.1.2-17', '3.1.2-17')} Will Retain 1 publishes the will as a retained message`, async () => {
      const t = topic('retain');
      const w = await watcher(version, t);
      const c = await connectRaw(b.port, version, { will: will(t, { retain: true }) });
      await c.destroy();
      await receive(w);
      const late = await connectRaw(b.port, version);
      await subscribe(late, [{ topic: t, qos: 1 }]);
      const got = await receive(late);
      assert.equal(got.retain, true);
      assert.equal(got.payload.toString(), 'gone');
    });
  });
}

describe('06 will (MQTT 5.0 only)', () => {
  test('§3.14.2.1 DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the will', async () => {
    const t = topic('with-will');
    const w = await watcher(5, t);
    const c = await connectRaw(b.port, 5, { will: will(t) });
    c.disconnect(0x04);
    assert.equal((await receive(w)).payload.toString(), 'gone');
  });

  test('[MQTT-3.1.2-8] the will waits for its Will Delay Interval; [MQTT-3.1.3-10] its properties are forwarded', async () => {
    const t = topic('delay');
    const w = await watcher(5, t);
    const c = await connectRaw(b.port, 5, {
      clientId: uniqueId('wd'),
      properties: { sessionExpiryInterval: 30 },
      will: will(t, { properties: { willDelayInterval: 1, contentType: 'text/plain', userProperties: { a: '1', b: ['2', '3'] } } }),
    });
    const lostAt = Date.now();
    await c.destroy();
    const got = await receive(w, true, 4_000);
    assert.ok(Date.now() - lostAt >= 900, `will after ${Date.now() - lostAt} ms, before its 1 s delay`);
    assert.equal(got.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...got.properties?.userProperties }, { a: '1', b: ['2', '3'] });
  });

  test('[MQTT-3.1.3-9] a new connection for the session within the Will Delay Interval cancels the will', async () => {
    const t = topic('cancel');
    const w = await watcher(5, t);
    const clientId = uniqueId('wc');
    const fields = { clientId, clean: false, properties: { sessionExpiryInterval: 30 } };
    const c = await connectRaw(b.port, 5, { ...fields, will: will(t, { properties: { willDelayInterval: 1 } }) });
    await c.destroy();
    await connectRaw(b.port, 5, fields);
    await expectNoPublish(w, w, 1_200);
  });

  test('[MQTT-3.1.2-8] the will goes out when the session ends, even before a longer Will Delay Interval', async () => {
    const t = topic('session-end');
    const w = await watcher(5, t);
    const c = await connectRaw(b.port, 5, {
      properties: { sessionExpiryInterval: 1 },
      will: will(t, { properties: { willDelayInterval: 60 } }),
    });
    await c.destroy();
    assert.equal((await receive(w, true, 4_000)).payload.toString(), 'gone');
  });

  test('§3.1.3.2.3 a will whose Payload Format Indicator says UTF-8 but whose payload is not gets CONNACK 0x99 and a close', async () => {
    const t = topic('pfi');
    const refused = await RawClient.connect(b.port, 5);
    const connack = await refused.handshake({
      will: will(t, { payload: Buffer.from([0xc3, 0x28]), properties: { payloadFormatIndicator: true } }),
    });
    assert.equal(connack.reasonCode, 0x99);
    assert.ok(connack.properties?.reasonString, 'explained');
    await refused.expectClose();
    const w = await watcher(5, t);
    const c = await connectRaw(b.port, 5, {
      will: will(t, { payload: Buffer.from('héllo'), properties: { payloadFormatIndicator: true } }),
    });
    await c.destroy();
    const got = await receive(w);
    assert.equal(got.payload.toString(), 'héllo');
    assert.equal(got.properties?.payloadFormatIndicator, true);
  });
});
