/**
 * Conformance, CONNECT and CONNACK (spec 3.1, 3.2, 4.12): protocol name and
 * level, a second CONNECT, client identifiers, session present, takeover,
 * keepalive and Server Keep Alive, the 5.0 CONNACK properties, and enhanced
 * authentication without an authenticator. MQTT 3.1.1 and 5.0 where both have
 * the feature. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket } from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { uniqueId, VERSIONS } from '../helpers/clients.js';
import { connectBytes, RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';
import { connectRaw, describePacket, expectServerClose, roundTrip } from './support.js';

const MAX_KEEPALIVE = 20;

const b = brokerForSuite({ maxKeepalive: MAX_KEEPALIVE });

function code(connack: IConnackPacket): number | undefined {
  return connack.reasonCode ?? connack.returnCode;
}

for (const version of VERSIONS) {
  describe(`01 connect (${label(version)})`, () => {
    test('[MQTT-3.1.0-2] a second CONNECT is a protocol violation: the connection is closed (5.0: DISCONNECT 0x82)', async () => {
      const c = await connectRaw(b.port, version);
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: uniqueId('again'), clean: true, keepalive: 0 });
      await expectServerClose(c, version, 0x82);
      assert.equal(c.received.filter((p) => p.cmd === 'connack').length, 1, '[MQTT-3.2.0-2] one CONNACK per connection');
    });

    test(`${rule(version, '3.1.2-1')} an unknown protocol name is refused (CONNACK ${version === 5 ? '0x84' : '0x01'}) and the connection closed`, async () => {
      const c = await RawClient.connect(b.port, version);
      c.send({
        cmd: 'connect',
        protocolId: 'MQTX' as 'MQTT',
        protocolVersion: version,
        clientId: uniqueId('name'),
        clean: true,
        keepalive: 0,
      });
      await c.expectClose();
      const connack = c.received.find((p): p is IConnackPacket => p.cmd === 'connack');
      assert.ok(connack, 'a CONNACK before the close');
      assert.equal(code(connack), version === 5 ? 0x84 : 0x01, describePacket(connack));
    });

    test(`${rule(version, '3.2.2-2')} clean start gets session present 0; ${rule(version, '3.2.2-3')} a resumed session gets 1`, async () => {
      const clientId = uniqueId('sp');
      const persistent = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
      const first = await connectRaw(b.port, version, { clientId, ...persistent });
      assert.equal(first.connack.sessionPresent, false);
      first.disconnect();
      await first.expectClose();
      const second = await connectRaw(b.port, version, { clientId, ...persistent });
      assert.equal(second.connack.sessionPresent, true);
      second.disconnect();
      await second.expectClose();
      const clean = await connectRaw(b.port, version, { clientId, clean: true });
      assert.equal(clean.connack.sessionPresent, false);
    });

    test(`${rule(version, '3.1.4-2', '3.1.4-3')} a second connection with the same client id takes over: the first is closed${version === 5 ? ' with DISCONNECT 0x8E' : ''}`, async () => {
      const clientId = uniqueId('take');
      const first = await connectRaw(b.port, version, { clientId });
      const second = await connectRaw(b.port, version, { clientId });
      await expectServerClose(first, version, 0x8e);
      await roundTrip(second);
    });

    test(`${rule(version, '3.1.2-24', '3.1.2-22')} no packet within 1.5 × Keep Alive closes the connection${version === 5 ? ' with DISCONNECT 0x8D' : ''}`, async () => {
      const c = await connectRaw(b.port, version, { keepalive: 1 });
      const start = Date.now();
      await expectServerClose(c, version, 0x8d);
      assert.ok(Date.now() - start >= 1_400, `closed after ${Date.now() - start} ms`);
    });
  });
}

describe('01 connect (MQTT 3.1.1 only)', () => {
  test('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and the connection is closed', async () => {
    const c = await RawClient.connect(b.port, 4);
    c.sendBytes(
      connectBytes({ protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueId('lvl'), clean: true, keepalive: 0 }, { protocolLevel: 7 }),
    );
    await c.expectClose();
    const connack = c.received.find((p): p is IConnackPacket => p.cmd === 'connack');
    assert.equal(connack?.returnCode, 0x01, connack ? describePacket(connack) : 'no CONNACK');
  });

  test('[MQTT-3.1.3-8] an empty client id with clean session 0 is refused with 0x02', async () => {
    const c = await RawClient.connect(b.port, 4);
    c.sendBytes(connectBytes({ protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 }, { cleanStart: false }));
    const connack = await c.expectPacket('connack');
    assert.equal(connack.returnCode, 0x02);
    await c.expectClose();
  });
});

describe('01 connect (MQTT 5.0 only)', () => {
  test('[MQTT-3.1.3-7] [MQTT-3.2.2-16] an empty client id gets an Assigned Client Identifier', async () => {
    const c = await connectRaw(b.port, 5, { clientId: '' });
    const assigned = c.connack.properties?.assignedClientIdentifier;
    assert.ok(typeof assigned === 'string' && assigned.length > 0, describePacket(c.connack));
  });

  test('CONNACK advertises the server capabilities: Shared Subscription Available, Topic Alias Maximum, Receive Maximum, Maximum Packet Size; no Maximum QoS, as QoS 2 is supported [MQTT-3.2.2-9]', async () => {
    const c = await connectRaw(b.port, 5);
    const p = c.connack.properties ?? {};
    assert.equal(p.sharedSubscriptionAvailable, true);
    assert.equal(p.topicAliasMaximum, 10);
    assert.equal(p.receiveMaximum, 1024, 'the default receiveMaximum');
    assert.equal(p.wildcardSubscriptionAvailable, true);
    assert.equal(p.subscriptionIdentifiersAvailable, true);
    assert.equal(p.retainAvailable, true);
    assert.equal(p.maximumQoS, undefined);
    assert.ok((p.maximumPacketSize ?? 0) > 0);
  });

  test('[MQTT-3.2.2-21] a Keep Alive of 0 or above maxKeepalive gets Server Keep Alive; [MQTT-3.2.2-22] one within it is kept', async () => {
    for (const keepalive of [0, MAX_KEEPALIVE + 1]) {
      const c = await connectRaw(b.port, 5, { keepalive });
      assert.equal(c.connack.properties?.serverKeepAlive, MAX_KEEPALIVE, `keepalive ${keepalive}: ${describePacket(c.connack)}`);
    }
    const kept = await connectRaw(b.port, 5, { keepalive: 5 });
    assert.equal(kept.connack.properties?.serverKeepAlive, undefined);
  });

  test('§3.2.2.3.2 a Session Expiry Interval above maxSessionExpiryInterval is capped and told in CONNACK', async () => {
    const c = await connectRaw(b.port, 5, { properties: { sessionExpiryInterval: 0xfffffffe } });
    assert.equal(c.connack.properties?.sessionExpiryInterval, 86400);
  });

  test('[MQTT-4.12.0-1] an Authentication Method the server does not support gets CONNACK 0x8C and a close', async () => {
    const c = await RawClient.connect(b.port, 5);
    c.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: uniqueId('auth'),
      clean: true,
      keepalive: 0,
      properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('client-first') },
    });
    const connack = await c.expectPacket('connack');
    assert.equal(connack.reasonCode, 0x8c);
    assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-6]');
    assert.match(connack.properties?.reasonString ?? '', /SCRAM-SHA-256/);
    await c.expectClose();
    assert.equal(c.received.filter((p) => p.cmd === 'auth').length, 0);
  });

  test('[MQTT-4.12.0-6] without an Authentication Method the CONNACK carries none; [MQTT-4.12.0-7] an AUTH then is a Protocol Error (0x82)', async () => {
    const c = await connectRaw(b.port, 5);
    assert.equal(c.connack.properties?.authenticationMethod, undefined);
    c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256' } });
    await expectServerClose(c, 5, 0x82);
  });
});
