/**
 * Transports: `Broker.handle(stream, transport?)` serves MQTT over a stream
 * the embedding application hands in, here an in-memory duplex pair and a
 * socket from a plain `net.createServer` the test owns. mqtt.js clients over
 * such streams connect, subscribe, publish and receive at QoS 0, 1 and 2,
 * talk to clients of the broker's own TCP listener, get the connect deadline,
 * the keepalive and the will like a listener's clients, and are closed by
 * broker.close(). MQTT 3.1.1 and 5.0; close() cases get their own broker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { brokerForSuite, startBroker, type TestBroker } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  dropConnection,
  nextMessage,
  once,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type ConnectOptions,
  type TestClient,
} from '../helpers/clients.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { label, rule } from '../helpers/spec.js';

const b = brokerForSuite({ workers: 1, maxKeepalive: 10, connectTimeoutMs: 1000 });

/** An mqtt.js client over an in-memory stream served by `broker.handle`; the broker's side is returned with it. */
async function connectInMemory(tb: TestBroker, opts: ConnectOptions = {}): Promise<{ client: TestClient; server: Duplex }> {
  let server: Duplex | undefined;
  const client = await connectClient(() => {
    const [clientSide, serverSide] = duplexPair();
    server = serverSide;
    tb.broker.handle(serverSide);
    return clientSide;
  }, opts);
  return { client, server: server as Duplex };
}

/** Resolves once `stream` emitted 'close' (at once when it already did). */
function closed(stream: Duplex, timeoutMs = 5_000): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return once(stream, 'close', timeoutMs).then(() => undefined);
}

/** Writes a clean CONNECT of `version` with `keepalive` seconds onto the client's side of a stream pair. */
function writeConnect(clientSide: Duplex, version: 4 | 5, clientId: string, keepalive: number): void {
  clientSide.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, clientId, keepalive }));
}

/** Parses every MQTT packet `stream` receives (protocol `version`). */
function packetsOf(stream: Duplex, version: 4 | 5): mqttPacket.Packet[] {
  const packets: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on('packet', (p) => packets.push(p));
  stream.on('data', (chunk: Buffer) => parser.parse(chunk));
  return packets;
}

/** A net server of the test's own whose sockets go to `broker.handle` as they are. */
let appServer: net.Server;
let appPort = 0;
before(async () => {
  appServer = net.createServer((socket) => b.broker.handle(socket));
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  appPort = (appServer.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((resolve) => appServer.close(() => resolve())));

for (const version of VERSIONS) {
  describe(`Broker.handle (${label(version)})`, () => {
    for (const how of ['an in-memory stream', "a socket of the application's net server"] as const) {
      const connect = async (opts: ConnectOptions = {}): Promise<TestClient> =>
        how === 'an in-memory stream'
          ? (await connectInMemory(b, { version, ...opts })).client
          : connectClient(appPort, { version, ...opts });

      test(`${rule(version, '3.2.0-1')} over ${how}: CONNECT gets CONNACK, SUBSCRIBE gets SUBACK, and PUBLISH at QoS 0, 1 and 2 comes back at that QoS`, async () => {
        const client = await connect();
        assert.equal(client.connack.returnCode ?? client.connack.reasonCode ?? 0, 0);
        const topic = uniqueTopic('handle');
        const granted = await client.subscribeAsync(topic, { qos: 2 });
        assert.equal(granted[0]?.qos, 2);
        for (const qos of [0, 1, 2] as const) {
          await client.publishAsync(topic, `q${qos}`, { qos });
          const m = await nextMessage(client);
          assert.equal(m.payload.toString(), `q${qos}`);
          assert.equal(m.packet.qos, qos, rule(version, '3.8.4-6', '3.8.4-8'));
        }
      });

      test(`over ${how}: a client of the broker's TCP listener and one served through handle exchange messages both ways`, async () => {
        const served = await connect();
        const direct = await connectClient(b.port, { version });
        const toServed = uniqueTopic('to-served');
        const toDirect = uniqueTopic('to-direct');
        await served.subscribeAsync(toServed, { qos: 1 });
        await direct.subscribeAsync(toDirect, { qos: 1 });
        await direct.publishAsync(toServed, 'from the listener', { qos: 1 });
        await served.publishAsync(toDirect, 'from handle', { qos: 2 });
        assert.equal((await nextMessage(served)).payload.toString(), 'from the listener');
        const m = await nextMessage(direct);
        assert.equal(m.payload.toString(), 'from handle');
        assert.equal(m.packet.qos, 1);
      });

      test(`${rule(version, '3.1.2-8')} over ${how}: the will is published when the stream is lost without DISCONNECT`, async () => {
        const willTopic = uniqueTopic('will');
        const watcher = await connectClient(b.port, { version });
        await watcher.subscribeAsync(willTopic, { qos: 1 });
        const client = await connect({ will: { topic: willTopic, payload: Buffer.from('gone'), qos: 1, retain: false } });
        dropConnection(client);
        assert.equal((await nextMessage(watcher)).payload.toString(), 'gone');
      });
    }

    test('the default transport of a socket is tcp with its peer address; of another stream, tcp with no address', async () => {
      const viaSocket = uniqueId('hs');
      const seen = once<[string, Record<string, unknown>]>(b.broker, 'client-connected', 5_000, (id) => id === viaSocket);
      const socketClient = await connectClient(appPort, { version, clientId: viaSocket });
      const [, detail] = await seen;
      assert.equal(detail['transport'], 'tcp');
      assert.equal(detail['remoteAddress'], '127.0.0.1');
      assert.equal(detail['remotePort'], (socketClient.stream as net.Socket).localPort);

      const viaMemory = uniqueId('hm');
      const seenMemory = once<[string, Record<string, unknown>]>(b.broker, 'client-connected', 5_000, (id) => id === viaMemory);
      await connectInMemory(b, { version, clientId: viaMemory });
      const [, memoryDetail] = await seenMemory;
      assert.deepEqual([memoryDetail['transport'], memoryDetail['remoteAddress'], memoryDetail['remotePort']], ['tcp', '', 0]);
    });

    test('transportInfo given to handle is what the session sees', async () => {
      const clientId = uniqueId('ht');
      const seen = once<[string, Record<string, unknown>]>(b.broker, 'client-connected', 5_000, (id) => id === clientId);
      await connectClient(
        () => {
          const [clientSide, serverSide] = duplexPair();
          b.broker.handle(serverSide, { type: 'ws', remoteAddress: '192.0.2.7', remotePort: 4242 });
          return clientSide;
        },
        { version, clientId },
      );
      const [, detail] = await seen;
      assert.deepEqual([detail['transport'], detail['remoteAddress'], detail['remotePort']], ['ws', '192.0.2.7', 4242]);
    });

    test('DISCONNECT from a client served through handle closes the broker side of its stream', async () => {
      const { client, server } = await connectInMemory(b, { version });
      await closeClient(client);
      await closed(server);
    });

    test('a stream that allows half-open use is closed when the client ends its side', async () => {
      const [clientSide, serverSide] = duplexPair({ allowHalfOpen: true });
      b.broker.handle(serverSide);
      const packets = packetsOf(clientSide, version);
      writeConnect(clientSide, version, uniqueId('ho'), 30);
      await once(clientSide, 'data');
      assert.equal(packets[0]?.cmd, 'connack');
      clientSide.end();
      await closed(serverSide);
    });

    test(`${rule(version, '3.1.2-24', '3.1.2-22')} a silent client with Keep Alive 1 over an in-memory stream is closed after 1.5 s${version === 5 ? ' with DISCONNECT 0x8D' : ''}`, async () => {
      const [clientSide, serverSide] = duplexPair();
      b.broker.handle(serverSide);
      const packets = packetsOf(clientSide, version);
      const sentAt = Date.now();
      writeConnect(clientSide, version, uniqueId('hk'), 1);
      await closed(serverSide, 6_000);
      const elapsed = Date.now() - sentAt;
      assert.ok(elapsed >= 1_450, `closed after ${elapsed} ms, before 1.5 × Keep Alive`);
      assert.ok(elapsed <= 3_500, `closed only after ${elapsed} ms`);
      await closed(clientSide);
      assert.equal(packets[0]?.cmd, 'connack');
      if (version === 5) {
        const last = packets.at(-1) as mqttPacket.IDisconnectPacket;
        assert.equal(last.cmd, 'disconnect');
        assert.equal(last.reasonCode, 0x8d);
      } else {
        assert.equal(packets.length, 1, '3.1.1 has no server DISCONNECT');
      }
    });

    test('a stream that sends no CONNECT is closed after connectTimeoutMs', async () => {
      const [clientSide, serverSide] = duplexPair();
      const sentAt = Date.now();
      b.broker.handle(serverSide);
      await closed(serverSide, 5_000);
      assert.ok(Date.now() - sentAt >= 950, 'not before connectTimeoutMs');
      clientSide.destroy();
    });

    test(`${rule(version, '3.1.0-1')} a stream whose first packet is not CONNECT is closed`, async () => {
      const [clientSide, serverSide] = duplexPair();
      b.broker.handle(serverSide);
      clientSide.write(mqttPacket.generate({ cmd: 'pingreq' }));
      await closed(serverSide);
    });
  });
}

describe('Broker.handle and close()', () => {
  for (const [version, workers] of [
    [4, 0],
    [5, 0],
    [4, 1],
    [5, 1],
  ] as const) {
    test(`${label(version)}, workers: ${workers}: close() ends the streams served through handle${version === 5 ? ' with DISCONNECT 0x8B' : ''}, and a stream handed in afterwards is destroyed`, async () => {
      const tb = await startBroker({ workers });
      try {
        const [clientSide, serverSide] = duplexPair();
        tb.broker.handle(serverSide);
        const packets = packetsOf(clientSide, version);
        writeConnect(clientSide, version, uniqueId('hc'), 30);
        await once(clientSide, 'data');
        await tb.close();
        await closed(serverSide);
        await closed(clientSide);
        if (version === 5) {
          const last = packets.at(-1) as mqttPacket.IDisconnectPacket;
          assert.equal(last.cmd, 'disconnect');
          assert.equal(last.reasonCode, 0x8b);
        }
        const [, late] = duplexPair();
        tb.broker.handle(late);
        assert.equal(late.destroyed, true);
      } finally {
        await tb.close();
      }
    });
  }

  test('handle rejects an unknown transport type', async () => {
    const tb = await startBroker({ workers: 0 });
    try {
      const [, serverSide] = duplexPair();
      assert.throws(() => tb.broker.handle(serverSide, { type: 'udp' as 'tcp', remoteAddress: '', remotePort: 0 }), TypeError);
    } finally {
      await tb.close();
    }
  });
});

describe('Broker.handle and a stream that already ended', () => {
  test('a stream destroyed before it is handed over is not kept as a connection, and close() does not wait for it', async () => {
    const tb = await startBroker({ workers: 0 });
    try {
      const [clientSide, serverSide] = duplexPair();
      clientSide.destroy();
      serverSide.destroy();
      await closed(serverSide);
      tb.broker.handle(serverSide);
      assert.equal((await tb.broker.stats()).connections, 0);
    } finally {
      const started = Date.now();
      await tb.close();
      assert.ok(Date.now() - started < 1_500, 'close() found no connection to wait for');
    }
  });
});
