/**
 * Limits checked at CONNECT, under MQTT 3.1.1 and 5.0: maxClientIdLength,
 * maxTopicLength / maxTopicLevels on SUBSCRIBE filters, maxKeepalive (5.0
 * Server Keep Alive), maxSessionExpiryInterval (5.0 CONNACK Session Expiry
 * Interval), maxConnections, connectTimeoutMs (until the CONNECT) and
 * handshakeTimeoutMs (from the CONNECT to its CONNACK).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { VERSIONS } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';

const MAX_ID = 30;
const MAX_TOPIC = 40;
const MAX_LEVELS = 4;
const MAX_KEEPALIVE = 20;
const MAX_EXPIRY = 100;

const b = brokerForSuite({
  workers: 1,
  maxClientIdLength: MAX_ID,
  maxTopicLength: MAX_TOPIC,
  maxTopicLevels: MAX_LEVELS,
  maxKeepalive: MAX_KEEPALIVE,
  maxSessionExpiryInterval: MAX_EXPIRY,
});

function idOf(length: number): string {
  return `L${Math.random().toString(36).slice(2)}`.padEnd(length, 'x').slice(0, length);
}

for (const version of VERSIONS) {
  describe(label(version), () => {
    test(`maxClientIdLength: a client id of exactly ${MAX_ID} characters is accepted`, async () => {
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake({ clientId: idOf(MAX_ID) });
      assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0);
    });

    test(`maxClientIdLength: one character more is refused with ${version === 5 ? 'CONNACK 0x85 [MQTT-3.1.3-5]' : 'CONNACK return code 2 [MQTT-3.1.3-9]'}`, async () => {
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake({ clientId: idOf(MAX_ID + 1) });
      assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, version === 5 ? 0x85 : 2);
      await raw.expectClose();
    });

    const atLength = `a/${'b'.repeat(MAX_TOPIC - 2)}`;
    const atLevels = Array.from({ length: MAX_LEVELS }, (_, i) => `l${i}`).join('/');
    test(`maxTopicLength / maxTopicLevels: filters at the limits (${MAX_TOPIC} bytes, ${MAX_LEVELS} levels) are granted; one over is ${version === 5 ? 'SUBACK 0x8F' : 'SUBACK 0x80'}`, async () => {
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({
        cmd: 'subscribe',
        messageId: 3,
        subscriptions: [
          { topic: atLength, qos: 1 },
          { topic: atLevels, qos: 1 },
          { topic: `${atLength}c`, qos: 1 },
          { topic: `${atLevels}/x`, qos: 1 },
        ],
      });
      const suback = await raw.expectPacket('suback');
      const bad = version === 5 ? 0x8f : 0x80;
      assert.deepEqual(suback.granted, [1, 1, bad, bad]);
    });

    test(`maxTopicLength / maxTopicLevels: a PUBLISH topic at the limits is acknowledged`, async () => {
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake();
      raw.send({ cmd: 'publish', topic: atLength, payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false });
      raw.send({ cmd: 'publish', topic: atLevels, payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false });
      const a1 = await raw.expectPacket('puback');
      const a2 = await raw.expectPacket('puback');
      assert.deepEqual([a1.messageId, a2.messageId], [1, 2]);
      if (version === 5) assert.deepEqual([a1.reasonCode ?? 0, a2.reasonCode ?? 0], [0, 0]);
    });

    for (const [what, topic] of [
      ['maxTopicLength', `${atLength}c`],
      ['maxTopicLevels', `${atLevels}/x`],
    ] as const) {
      test(`${what}: a PUBLISH topic one over the limit ends the connection${version === 5 ? ' with DISCONNECT 0x90' : ''}`, async () => {
        const raw = await RawClient.connect(b.port, version);
        await raw.handshake();
        raw.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false });
        const closed = await raw.expectClose();
        assert.ok(!closed.packets.some((p) => p.cmd === 'puback'), 'no PUBACK');
        if (version === 5) {
          const d = closed.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
          assert.equal(d?.reasonCode, 0x90);
        }
      });
    }
  });
}

describe('MQTT 5.0 keepalive and session expiry caps', () => {
  test(`maxKeepalive: a Keep Alive at or under ${MAX_KEEPALIVE} s is granted as asked (no Server Keep Alive)`, async () => {
    const raw = await RawClient.connect(b.port, 5);
    const connack = await raw.handshake({ keepalive: MAX_KEEPALIVE });
    assert.equal(connack.properties?.serverKeepAlive, undefined);
  });

  test('maxKeepalive: a larger Keep Alive, or 0, gets Server Keep Alive = maxKeepalive [MQTT-3.2.2-21]', async () => {
    for (const keepalive of [MAX_KEEPALIVE + 1, 0]) {
      const raw = await RawClient.connect(b.port, 5);
      const connack = await raw.handshake({ keepalive });
      assert.equal(connack.properties?.serverKeepAlive, MAX_KEEPALIVE, `asked ${keepalive}`);
    }
  });

  test(`maxSessionExpiryInterval: a Session Expiry Interval at ${MAX_EXPIRY} s is kept (not told back in CONNACK)`, async () => {
    const raw = await RawClient.connect(b.port, 5);
    const connack = await raw.handshake({ properties: { sessionExpiryInterval: MAX_EXPIRY } });
    assert.equal(connack.properties?.sessionExpiryInterval, undefined);
  });

  test('maxSessionExpiryInterval: a larger one is capped and CONNACK tells the interval used (§3.2.2.3.2)', async () => {
    const raw = await RawClient.connect(b.port, 5);
    const connack = await raw.handshake({ properties: { sessionExpiryInterval: MAX_EXPIRY + 1000 } });
    assert.equal(connack.properties?.sessionExpiryInterval, MAX_EXPIRY);
  });
});

describe('maxConnections and connectTimeoutMs', () => {
  const small = brokerForSuite({ workers: 0, maxConnections: 3, connectTimeoutMs: 300 });

  test('maxConnections: the first N connections are served, the (N+1)th is closed', async () => {
    const served: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const raw = await RawClient.connect(small.port, 4);
      assert.equal((await raw.handshake()).returnCode, 0);
      served.push(raw);
    }
    const extra = await RawClient.connect(small.port, 4);
    await extra.expectClose();
    // The first N still work.
    for (const raw of served) {
      raw.send({ cmd: 'pingreq' });
      await raw.expectPacket('pingresp');
    }
    await Promise.all(served.map((r) => r.destroy()));
    // Bounded wait until the broker saw the closes, so the next test has its places back.
    const deadline = Date.now() + 5000;
    while ((await small.broker.stats()).connections > 0) {
      assert.ok(Date.now() < deadline, 'broker still counts closed connections');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  test('connectTimeoutMs: a connection that sends CONNECT in time is served past the deadline', async () => {
    const raw = await RawClient.connect(small.port, 4);
    assert.equal((await raw.handshake()).returnCode, 0);
    await new Promise((r) => setTimeout(r, 700)); // bounded: past the 300 ms deadline (sweeps every 250 ms)
    raw.send({ cmd: 'pingreq' });
    await raw.expectPacket('pingresp');
    await raw.destroy();
  });

  test('connectTimeoutMs: a silent connection is closed after the deadline', async () => {
    const raw = await RawClient.connect(small.port, 4);
    const { at } = await raw.expectClose(3000);
    assert.ok(at >= 250, `closed after ${at} ms`);
  });
});

describe('connectTimeoutMs under 200 silent connections', () => {
  const many = brokerForSuite({ workers: 1, connectTimeoutMs: 300 });

  test('connectTimeoutMs: 200 silent connections are all closed and the broker still serves', async () => {
    const silent = await Promise.all(Array.from({ length: 200 }, () => RawClient.connect(many.port, 4)));
    await Promise.all(silent.map((r) => r.expectClose(5000)));
    assert.equal((await many.broker.stats()).connections, 0);
    const raw = await RawClient.connect(many.port, 5);
    assert.equal((await raw.handshake()).reasonCode, 0);
  });
});

describe('handshakeTimeoutMs', () => {
  const challenging = brokerForSuite(
    { workers: 1, handshakeTimeoutMs: 300 },
    {
      plugins: [{ on_auth_m5: () => ({ ok: { reason_code: 'continue_authentication' as const, auth_data: Buffer.from('challenge') } }) }],
    },
  );

  test('MQTT 5.0: a client that leaves its enhanced authentication halfway gets no CONNACK and is closed after the deadline', async () => {
    const raw = await RawClient.connect(challenging.port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 0,
      clientId: `half-${process.pid}`,
      properties: { authenticationMethod: 'CHALLENGE' },
    });
    const auth = await raw.expectPacket('auth');
    assert.equal(auth.reasonCode, 0x18);
    const { at } = await raw.expectClose(3000);
    assert.ok(at >= 250, `closed after ${at} ms`);
  });
});
