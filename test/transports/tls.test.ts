/**
 * MQTT over TLS and secure WebSocket (src/main/net/tls-listener.ts) with a
 * throwaway CA and a server certificate for 127.0.0.1 made by openssl at
 * test time: pub/sub for 3.1.1 and 5.0 with the server certificate verified,
 * failed handshakes that leave the broker serving, client certificates, and
 * the configuration checks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { Broker } from '../../src/main/broker.js';
import { createBroker } from '../../src/main/broker.js';
import { resolveConfig } from '../../src/api/config-schema.js';
import { closeBroker, connect, makeCerts, next, startBroker, uniqueTopic, urlOf, within, type Certs, type TestClient } from './helpers.js';

const VERSIONS = [4, 5] as const;

/** Expects the connection attempt to fail before CONNACK. */
async function refused(attempt: Promise<TestClient>, what: string): Promise<void> {
  const outcome = await attempt.then(
    async (client) => {
      await client.end();
      return 'connected';
    },
    (err: unknown) => err,
  );
  assert.notEqual(outcome, 'connected', `${what}: connected`);
}

describe('MQTT over TLS and WSS', () => {
  let certs: Certs;
  let broker: Broker;
  let ca: Buffer;
  before(async () => {
    certs = makeCerts();
    ca = readFileSync(certs.ca);
    broker = await startBroker({ tlsPort: 0, wssPort: 0, tlsCert: certs.cert, tlsKey: certs.key });
  });
  after(async () => {
    await closeBroker(broker);
    certs.remove();
  });

  it('reports both addresses', () => {
    const { tcp, tls, wss, ws } = broker.addresses();
    assert.ok(tcp && tls && wss);
    assert.equal(ws, undefined);
    assert.equal(new Set([tcp.port, tls.port, wss.port]).size, 3);
  });

  for (const version of VERSIONS) {
    it(`pub/sub over mqtts:// and wss:// with the server certificate verified (MQTT v${version})`, async () => {
      const topic = uniqueTopic(`tls/v${version}`);
      const tlsSub = await connect(urlOf(broker, 'tls'), version, { ca, rejectUnauthorized: true });
      const wssSub = await connect(urlOf(broker, 'wss'), version, { ca, rejectUnauthorized: true });
      const tlsPub = await connect(urlOf(broker, 'tls'), version, { ca, rejectUnauthorized: true });
      const wssPub = await connect(urlOf(broker, 'wss'), version, { ca, rejectUnauthorized: true });
      try {
        await within(tlsSub.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK tls');
        await within(wssSub.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK wss');
        await within(tlsPub.client.publishAsync(topic, 'from tls', { qos: 1 }), 'PUBACK tls');
        await within(wssPub.client.publishAsync(topic, Buffer.alloc(100_000, 1), { qos: 1 }), 'PUBACK wss');
        for (const sub of [tlsSub, wssSub]) {
          assert.equal((await sub.message(1)).payload.toString(), 'from tls');
          assert.deepEqual((await sub.message(2)).payload, Buffer.alloc(100_000, 1));
        }
      } finally {
        await Promise.all([tlsSub.end(), wssSub.end(), tlsPub.end(), wssPub.end()]);
      }
    });
  }

  it('survives failed handshakes and plain-text bytes on its TLS ports', async () => {
    // The client does not trust the throwaway CA: it aborts the handshake.
    await refused(connect(urlOf(broker, 'tls'), 4, { rejectUnauthorized: true }), 'untrusted tls');
    await refused(connect(urlOf(broker, 'wss'), 4, { rejectUnauthorized: true }), 'untrusted wss');
    // Not TLS at all.
    for (const port of [broker.addresses().tls?.port, broker.addresses().wss?.port]) {
      const socket = netConnect(port as number, '127.0.0.1');
      await next(socket, 'connect', 'plain connect');
      const closed = next(socket, 'close', 'close of a plain-text client');
      socket.on('error', () => undefined);
      socket.end(Buffer.from([0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 30, 0, 0]));
      await closed;
    }
    // A TLS client that goes away in the middle of its handshake.
    const half = tlsConnect({ host: '127.0.0.1', port: broker.addresses().tls?.port as number, ca });
    half.on('error', () => undefined);
    half.destroy();
    // Still serving.
    const client = await connect(urlOf(broker, 'tls'), 5, { ca });
    await client.end();
  });
});

describe('TLS client certificates (tlsRequestCert)', () => {
  let certs: Certs;
  let broker: Broker;
  before(async () => {
    certs = makeCerts();
    broker = await startBroker({
      tlsPort: 0,
      wssPort: 0,
      tlsCert: certs.cert,
      tlsKey: certs.key,
      tlsCa: certs.ca,
      tlsRequestCert: true,
    });
  });
  after(async () => {
    await closeBroker(broker);
    certs.remove();
  });

  for (const transport of ['tls', 'wss'] as const) {
    it(`over ${transport}: a client without a certificate is refused, one with a certificate from tlsCa is served`, async () => {
      const ca = readFileSync(certs.ca);
      await refused(connect(urlOf(broker, transport), 4, { ca }), `${transport} without a client certificate`);
      const client = await connect(urlOf(broker, transport), 5, {
        ca,
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
      });
      const topic = uniqueTopic('client-cert');
      await within(client.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK');
      await within(client.client.publishAsync(topic, 'mutual', { qos: 1 }), 'PUBACK');
      assert.equal((await client.message(1)).payload.toString(), 'mutual');
      await client.end();
    });
  }
});

describe('TLS configuration', () => {
  it('needs tlsCert and tlsKey when tlsPort or wssPort is on', () => {
    assert.throws(() => resolveConfig({ tlsPort: 0 }), /config\.tlsCert/);
    assert.throws(() => resolveConfig({ wssPort: 0, tlsCert: 'cert.pem' }), /config\.tlsKey/);
    assert.throws(() => resolveConfig({ wsPort: -2 }), /config\.wsPort/);
    assert.throws(() => resolveConfig({ wsPath: 'mqtt' }), /config\.wsPath/);
    assert.throws(() => resolveConfig({ tlsRequestCert: 'yes' as unknown as boolean }), /config\.tlsRequestCert/);
    const defaults = resolveConfig({});
    assert.deepEqual([defaults.wsPort, defaults.tlsPort, defaults.wssPort, defaults.wsPath], [-1, -1, -1, '/mqtt']);
  });

  it('listen() rejects naming the field of a file it cannot read, and leaves nothing listening', async () => {
    const certs = makeCerts();
    const broker = createBroker({
      host: '127.0.0.1',
      port: 0,
      workers: 0,
      logLevel: 'silent',
      wsPort: 0,
      tlsPort: 0,
      tlsCert: certs.cert,
      tlsKey: join(certs.dir, 'missing.key'),
    });
    try {
      await assert.rejects(within(broker.listen(), 'listen()'), /config\.tlsKey/);
      assert.deepEqual(broker.addresses(), {});
    } finally {
      await closeBroker(broker);
      certs.remove();
    }
  });
});
