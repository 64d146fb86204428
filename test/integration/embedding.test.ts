/**
 * Integration: the embedding API of createBroker — broker.publish reaching
 * subscribers, client-connected / client-disconnected events,
 * disconnectClient (a server-initiated DISCONNECT with a reason code, Reason
 * String and Server Reference; the will follows, the session lives on), and a
 * graceful close() that disconnects clients (5.0: DISCONNECT 0x8B, or 0x9C /
 * 0x9D with a Server Reference) and frees the port. MQTT 3.1.1 and 5.0;
 * close() cases get their own broker.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { IDisconnectPacket } from 'mqtt-packet';
import { brokerForSuite, startBroker } from '../helpers/broker.js';
import {
  closeAllClients,
  closeClient,
  connectClient,
  dropConnection,
  nextMessage,
  once,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
} from '../helpers/clients.js';
import { describe as describePacket, RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 1 });

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

for (const version of VERSIONS) {
  describe(`embedding API (${label(version)})`, () => {
    for (const qos of [0, 1, 2] as const) {
      test(`broker.publish at QoS ${qos} reaches a subscriber at min(QoS, granted)`, async () => {
        const topic = uniqueTopic('app');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1 });
        await b.broker.publish({ topic, payload: Buffer.from(`app-${qos}`), qos, retain: false });
        const m = await nextMessage(sub);
        assert.equal(m.topic, topic);
        assert.equal(m.payload.toString(), `app-${qos}`);
        assert.equal(m.packet.qos, Math.min(qos, 1));
        assert.equal(m.packet.retain, false);
      });
    }

    test('broker.publish reaches wildcard subscribers and a persistent offline session (QoS 1)', async () => {
      const base = uniqueTopic('app');
      const clientId = uniqueId('appoff');
      const options = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
      const offline = await connectClient(b.port, { version, clientId, ...options });
      await offline.subscribeAsync(`${base}/#`, { qos: 1 });
      const gone = once<[string, unknown]>(b.broker, 'client-disconnected', 5_000, (id) => id === clientId);
      await closeClient(offline);
      await gone;
      const live = await connectClient(b.port, { version });
      await live.subscribeAsync(`${base}/+`, { qos: 1 });
      await b.broker.publish({ topic: `${base}/x`, payload: Buffer.from('to-all'), qos: 1, retain: false });
      assert.equal((await nextMessage(live)).payload.toString(), 'to-all');
      const back = await connectClient(b.port, { version, clientId, ...options });
      assert.equal(back.connack.sessionPresent, true);
      assert.equal((await nextMessage(back)).payload.toString(), 'to-all');
    });

    test('broker.publish rejects an invalid topic name', async () => {
      await assert.rejects(b.broker.publish({ topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false }));
      await assert.rejects(b.broker.publish({ topic: '', payload: Buffer.from('x'), qos: 0, retain: false }));
    });

    test('client-connected and client-disconnected fire with the client id (DISCONNECT and dropped socket)', async () => {
      for (const how of ['disconnect', 'drop'] as const) {
        const clientId = uniqueId(`ev-${how}`);
        const connected = once<[string, Record<string, unknown>]>(b.broker, 'client-connected', 5_000, (id) => id === clientId);
        const client = await connectClient(b.port, { version, clientId });
        const [id, detail] = await connected;
        assert.equal(id, clientId);
        assert.equal(typeof detail, 'object');
        const disconnected = once<[string, Record<string, unknown>]>(b.broker, 'client-disconnected', 5_000, (i) => i === clientId);
        if (how === 'disconnect') await closeClient(client);
        else dropConnection(client);
        const [gone] = await disconnected;
        assert.equal(gone, clientId);
      }
    });

    test('client-connected reports the assigned id for an empty client id', async () => {
      const connected = once<[string, Record<string, unknown>]>(b.broker, 'client-connected', 5_000);
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake({ clientId: '', clean: true });
      const [id] = await connected;
      assert.ok(id.length > 0);
      if (version === 5) assert.equal(id, connack.properties?.assignedClientIdentifier);
    });

    test(`disconnectClient: ${version === 5 ? 'DISCONNECT with the reason code, Reason String and Server Reference' : 'the connection is closed'}; the will is published and the session lives on`, async () => {
      const clientId = uniqueId('kick');
      const willTopic = uniqueTopic('kickwill');
      const watcher = await connectClient(b.port, { version });
      await watcher.subscribeAsync(willTopic, { qos: 1 });
      const client = await connectClient(b.port, {
        version,
        clientId,
        ...persistent(version),
        will: { topic: willTopic, payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      const disconnects: IDisconnectPacket[] = [];
      client.on('disconnect', (p) => disconnects.push(p));
      const closed = once(client, 'close', 5_000);
      const found = await b.broker.disconnectClient(clientId, {
        reasonCode: 0x9c,
        reasonString: 'maintenance',
        serverReference: 'other.example:1883',
      });
      assert.equal(found, true);
      await closed;
      if (version === 5) {
        assert.equal(disconnects.length, 1);
        assert.equal(disconnects[0]?.reasonCode, 0x9c);
        assert.equal(disconnects[0]?.properties?.reasonString, 'maintenance');
        assert.equal(disconnects[0]?.properties?.serverReference, 'other.example:1883');
      } else {
        assert.deepEqual(disconnects, [], '3.1.1 has no server DISCONNECT');
      }
      assert.equal((await nextMessage(watcher)).payload.toString(), 'gone', 'a server-initiated disconnect publishes the will');
      const back = await connectClient(b.port, { version, clientId, ...persistent(version) });
      assert.equal(back.connack.sessionPresent, true, 'the session lived on');
      assert.equal(await b.broker.disconnectClient(uniqueId('nobody')), false, 'no such client');
    });

    test(`close({ serverReference }) ${version === 5 ? 'sends DISCONNECT 0x9C, or 0x9D when permanent, with the Server Reference' : 'closes 3.1.1 clients'}`, async () => {
      for (const permanent of [false, true]) {
        const own = await startBroker({ workers: 1 });
        try {
          const raw = await RawClient.connect(own.port, version);
          await raw.handshake();
          const client = await connectClient(own.port, { version });
          const disconnects: IDisconnectPacket[] = [];
          client.on('disconnect', (p) => disconnects.push(p));
          const clientClosed = once(client, 'close', 10_000);
          await own.broker.close({ serverReference: 'next.example:1883', permanent });
          const { packets } = await raw.expectClose(1_000);
          await clientClosed;
          const code = permanent ? 0x9d : 0x9c;
          if (version === 5) {
            assert.deepEqual(
              packets.map((p) => [(p as IDisconnectPacket).reasonCode, (p as IDisconnectPacket).properties?.serverReference]),
              [[code, 'next.example:1883']],
            );
            assert.deepEqual(
              disconnects.map((p) => [p.reasonCode, p.properties?.serverReference]),
              [[code, 'next.example:1883']],
            );
          } else {
            assert.deepEqual(packets.map(describePacket), []);
          }
        } finally {
          await own.close();
        }
      }
    });

    test(`close() disconnects clients${version === 5 ? ' with DISCONNECT 0x8B' : ''}, resolves, and frees the port`, async () => {
      const own = await startBroker({ workers: 1 });
      try {
        const raw = await RawClient.connect(own.port, version);
        await raw.handshake();
        const client = await connectClient(own.port, { version });
        const reasons: number[] = [];
        client.on('disconnect', (p) => reasons.push(p.reasonCode ?? 0));
        const clientClosed = once(client, 'close', 10_000);
        await own.close();
        const { packets } = await raw.expectClose(1_000);
        await clientClosed;
        if (version === 5) {
          assert.equal(packets.length, 1, packets.map(describePacket).join('; ') || 'no DISCONNECT before close');
          assert.equal(packets[0]?.cmd, 'disconnect');
          assert.equal((packets[0] as IDisconnectPacket).reasonCode, 0x8b);
          assert.deepEqual(reasons, [0x8b]);
        } else {
          assert.deepEqual(packets.map(describePacket), []);
        }
        assert.equal(await portRefuses(own.port), true, 'the listener still accepts connections after close()');
      } finally {
        await own.close();
      }
    });
  });
}

describe('embedding API (any version)', () => {
  test('workers: 0 broker listens, routes and closes', async () => {
    const own = await startBroker({ workers: 0 });
    try {
      const topic = uniqueTopic('inline');
      const sub = await connectClient(own.port, { version: 5 });
      await sub.subscribeAsync(topic, { qos: 1 });
      await own.broker.publish({ topic, payload: Buffer.from('inline'), qos: 1, retain: false });
      assert.equal((await nextMessage(sub)).payload.toString(), 'inline');
    } finally {
      await closeAllClients();
      await own.close();
    }
  });

  test('disconnectClient refuses a reason code a server may not send in DISCONNECT; close() checks its redirection', async () => {
    await assert.rejects(
      b.broker.disconnectClient('x', { reasonCode: 0x04 }),
      /reasonCode 4 is not a reason code a server may send in DISCONNECT/,
    );
    await assert.rejects(b.broker.disconnectClient('x', { reasonCode: 0x18 }), RangeError);
    await assert.rejects(b.broker.disconnectClient('x', { serverReference: 'a\0b' }), /serverReference must be/);
    await assert.rejects(b.broker.close({ permanent: true }), /permanent needs a serverReference/);
    await assert.rejects(b.broker.close({ serverReference: '' }), /serverReference must not be empty/);
  });

  test('workers: 0: disconnectClient with the default 0x98 Administrative action, in a pool', async () => {
    const own = await startBroker({ workers: 0 });
    try {
      const clientId = uniqueId('kick0');
      const client = await connectClient(own.port, { version: 5, clientId });
      assert.equal(await own.broker.disconnectClient(clientId, { pool: 'elsewhere' }), false, 'another pool');
      const disconnected = once<[IDisconnectPacket]>(client, 'disconnect', 5_000);
      assert.equal(await own.broker.disconnectClient(clientId), true);
      const [packet] = await disconnected;
      assert.equal(packet.reasonCode, 0x98);
    } finally {
      await closeAllClients();
      await own.close();
    }
  });

  test('close() twice is harmless', async () => {
    const own = await startBroker({ workers: 1 });
    await own.broker.close();
    await own.broker.close();
  });
});

describe('broker.publish with a Message Expiry Interval', () => {
  test('[MQTT-3.3.2-6] a 5.0 subscriber gets the remaining lifetime; a 3.1.1 subscriber gets the message without properties', async () => {
    const topic = uniqueTopic('appexp');
    const v5 = await connectClient(b.port, { version: 5 });
    const v4 = await connectClient(b.port, { version: 4 });
    await v5.subscribeAsync(topic, { qos: 1 });
    await v4.subscribeAsync(topic, { qos: 1 });
    await b.broker.publish({
      topic,
      payload: Buffer.from('ttl'),
      qos: 1,
      properties: { messageExpiryInterval: 60, contentType: 'text/plain' },
    });
    const m5 = await nextMessage(v5);
    const lifetime = m5.packet.properties?.messageExpiryInterval;
    assert.ok(lifetime !== undefined && lifetime > 0 && lifetime <= 60, `remaining lifetime ${lifetime}`);
    assert.equal(m5.packet.properties?.contentType, 'text/plain');
    const m4 = await nextMessage(v4);
    assert.equal(m4.payload.toString(), 'ttl');
  });

  test('a retained message whose interval has passed is not sent to a new subscriber', async () => {
    const topic = uniqueTopic('appexp');
    await b.broker.publish({ topic, payload: Buffer.from('gone'), qos: 0, retain: true, properties: { messageExpiryInterval: 0 } });
    const sub = await connectClient(b.port, { version: 5 });
    await sub.subscribeAsync(topic, { qos: 0 });
    // Retained messages are sent before any message published after the SUBACK.
    await b.broker.publish({ topic, payload: Buffer.from('live'), qos: 0 });
    assert.equal((await nextMessage(sub)).payload.toString(), 'live', 'the expired retained message is skipped');
  });

  test('an interval that is not a whole number of seconds is refused with an error naming it', async () => {
    await assert.rejects(
      b.broker.publish({ topic: uniqueTopic('appexp'), payload: 'x', properties: { messageExpiryInterval: -1 } }),
      /messageExpiryInterval/,
    );
  });
});

describe('broker.disconnectClient towards a small Maximum Packet Size', () => {
  test("[MQTT-3.1.2-24] a DISCONNECT whose Server Reference does not fit the client's Maximum Packet Size goes without it: the reason code still reaches the client", async () => {
    const clientId = uniqueId('tiny');
    const raw = await RawClient.connect(b.port, 5);
    const connack = await raw.handshake({ clientId, properties: { maximumPacketSize: 24 } });
    assert.equal(connack.reasonCode, 0);
    assert.equal(await b.broker.disconnectClient(clientId, { reasonCode: 0x9c, serverReference: `${'x'.repeat(40)}.example:1883` }), true);
    const disconnect = (await raw.expectPacket('disconnect')) as IDisconnectPacket;
    assert.equal(disconnect.reasonCode, 0x9c);
    assert.equal(disconnect.properties?.serverReference, undefined);
  });
});
