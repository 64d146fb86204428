/**
 * PROXY protocol v1 and v2 before the TLS handshake (the TLS-passthrough load
 * balancer) on the TLS and WSS listeners, and before the HTTP upgrade on the
 * WebSocket listener, as `proxyProtocol` names them (src/main/net/proxy-front.ts):
 * a raw socket writes the header, then node:tls (with the throwaway CA made
 * by openssl) shakes hands over it, and mqtt.js (over ws for WebSocket)
 * connects through that stream. The address in the header is what the
 * 'client-connected' event, the connection log line and an in-process
 * plugin's `peer` see; a malformed, missing or late header closes the
 * connection with a warning naming the listener, and the broker goes on
 * serving. Plus the config field's list form. Every wait is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { pino } from 'pino';
import WebSocket, { createWebSocketStream } from 'ws';
import { resolveConfig } from '../../src/api/config-schema.js';
import type { Peer, Plugin } from '../../src/api/hooks.js';
import { expectsProxyHeader } from '../../src/main/net/proxy-front.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeClient, connectClient, nextMessage, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { LogCapture } from '../helpers/log-capture.js';
import { connectedDetail, makeCerts, within, type Certs } from './helpers.js';

type Listener = 'tls' | 'wss' | 'ws';

function v1(src: string, dst: string, sport: number, dport: number): Buffer {
  return Buffer.from(`PROXY ${net.isIPv4(src) ? 'TCP4' : 'TCP6'} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1');
}

/** A v2 PROXY TCP4 header. */
function v2(src: string, dst: string, sport: number, dport: number): Buffer {
  const addresses = Buffer.from([
    ...src.split('.').map(Number),
    ...dst.split('.').map(Number),
    sport >> 8,
    sport & 0xff,
    dport >> 8,
    dport & 0xff,
  ]);
  return Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0x00, addresses.length]), addresses]);
}

/** A TCP connection to `port` that has written `header` (nothing else yet). */
async function proxied(port: number, header: Buffer): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await within(once(socket, 'connect'), `TCP connect to ${port}`);
  socket.write(header);
  return socket;
}

describe('PROXY protocol on the TLS, WSS and WebSocket listeners', () => {
  let certs: Certs;
  let ca: Buffer;
  let b: TestBroker;
  const capture = new LogCapture();
  /** The peer auth_on_register(_m5) saw, by client id. */
  const peers = new Map<string, Peer>();
  const recorder: Plugin = {
    auth_on_register: (peer, sid) => {
      peers.set(sid.clientId, peer);
      return 'ok';
    },
    auth_on_register_m5: (peer, sid) => {
      peers.set(sid.clientId, peer);
      return 'ok';
    },
  };

  before(async () => {
    certs = makeCerts();
    ca = readFileSync(certs.ca);
    b = await startBroker(
      {
        tlsPort: 0,
        wssPort: 0,
        wsPort: 0,
        tlsCert: certs.cert,
        tlsKey: certs.key,
        proxyProtocol: ['tls', 'wss', 'ws'],
        connectTimeoutMs: 1000,
        allowAnonymous: true,
        logger: pino({ level: 'info' }, capture),
      },
      { plugins: [recorder] },
    );
  });
  after(async () => {
    await b.close();
    certs.remove();
  });

  const portOf = (listener: Listener): number => (b.broker.addresses()[listener] as net.AddressInfo).port;

  /**
   * A client stream to `listener` behind `header`: TLS over the proxied
   * socket, then (wss) a WebSocket; for ws, a WebSocket whose own socket
   * writes the header before its upgrade request.
   */
  async function streamTo(listener: Listener, header: Buffer): Promise<Duplex> {
    const url = `${listener}://127.0.0.1:${portOf(listener)}${b.broker.config.wsPath}`;
    let ws: WebSocket;
    if (listener === 'ws') {
      ws = new WebSocket(url, 'mqtt', {
        createConnection: () => {
          const socket = net.connect({ host: '127.0.0.1', port: portOf(listener) });
          socket.write(header);
          return socket;
        },
      });
    } else {
      const socket = await proxied(portOf(listener), header);
      const secure = tls.connect({ socket, ca, servername: 'localhost', checkServerIdentity: () => undefined });
      await within(once(secure, 'secureConnect'), `TLS handshake on ${listener}`);
      if (listener === 'tls') return secure;
      ws = new WebSocket(url, 'mqtt', { createConnection: () => secure });
    }
    await within(once(ws, 'open'), `WebSocket upgrade on ${listener}`);
    return createWebSocketStream(ws);
  }

  /** Connects mqtt.js over `listener` behind `header`; returns the client and what the broker reported of it. */
  async function connectThrough(listener: Listener, header: Buffer, version: 4 | 5) {
    const clientId = uniqueId(`pp-${listener}`);
    const event = connectedDetail(b.broker, clientId);
    const stream = await streamTo(listener, header);
    const client = await connectClient(() => stream, { version, clientId });
    return { client, clientId, detail: await event, log: await capture.line('client connected', clientId), peer: peers.get(clientId) };
  }

  for (const version of VERSIONS) {
    for (const listener of ['tls', 'wss'] as const) {
      it(`${listener}, MQTT v${version}: a v1 and a v2 header before the handshake name the client everywhere`, async () => {
        for (const [header, address, port] of [
          [v1('198.51.100.7', '198.51.100.1', 40001, 8883), '198.51.100.7', 40001],
          [v1('2001:db8::7', '2001:db8::1', 40002, 8883), '2001:db8::7', 40002],
          [v2('203.0.113.9', '203.0.113.1', 40003, 8883), '203.0.113.9', 40003],
        ] as const) {
          const { client, detail, log, peer } = await connectThrough(listener, header, version);
          try {
            assert.equal(detail['transport'], listener);
            assert.deepEqual([detail['remoteAddress'], detail['remotePort']], [address, port], 'client-connected');
            assert.deepEqual([log['remoteAddress'], log['remotePort'], log['transport']], [address, port, listener], 'log line');
            assert.deepEqual(peer, { address, port }, "a plugin's peer");
            const topic = uniqueTopic(`pp/${listener}`);
            await within(client.subscribeAsync(topic, { qos: 1 }), 'SUBACK');
            await within(client.publishAsync(topic, 'through the proxy', { qos: 1 }), 'PUBACK');
            assert.equal((await nextMessage(client)).payload.toString(), 'through the proxy');
          } finally {
            await closeClient(client);
          }
        }
      });
    }
  }

  it('ws: a header before the HTTP upgrade names the client', async () => {
    const { client, detail, peer } = await connectThrough('ws', v2('192.0.2.44', '192.0.2.1', 5044, 80), 5);
    assert.deepEqual([detail['transport'], detail['remoteAddress'], detail['remotePort']], ['ws', '192.0.2.44', 5044]);
    assert.deepEqual(peer, { address: '192.0.2.44', port: 5044 });
    await closeClient(client);
  });

  const bad: Array<{ name: string; bytes: Buffer | undefined; error: RegExp }> = [
    { name: 'no header (a TLS ClientHello straight away)', bytes: undefined, error: /no PROXY protocol header/ },
    { name: 'a v1 header with a bad address', bytes: Buffer.from('PROXY TCP4 300.1.1.1 1.1.1.1 1 2\r\n'), error: /bad TCP4 address/ },
    { name: 'a v2 header of version 3', bytes: Buffer.from('0d0a0d0a000d0a515549540a3111000c', 'hex'), error: /unsupported version 3/ },
    { name: 'half a header, then nothing', bytes: Buffer.from('PROXY TCP4 192.0.2.'), error: /within 1000 ms/ },
  ];
  for (const listener of ['tls', 'wss'] as const) {
    for (const { name, bytes, error } of bad) {
      it(`${listener}: closes a connection that starts with ${name}, logs a warning, and goes on serving`, async () => {
        const socket = net.connect({ host: '127.0.0.1', port: portOf(listener) });
        socket.on('error', () => undefined);
        await within(once(socket, 'connect'), 'TCP connect');
        const closed = within(once(socket, 'close'), `close after ${name}`, 3_000);
        const local = socket.localPort;
        if (bytes) socket.write(bytes);
        else tls.connect({ socket, ca, servername: 'localhost' }).on('error', () => undefined);
        await closed;
        const warning = await capture.find(
          (r) => r['msg'] === 'bad PROXY protocol header, closing' && r['remotePort'] === local,
          `warning for ${name}`,
        );
        assert.equal(warning['level'], 40);
        assert.equal(warning['type'], listener);
        assert.match(String(warning['err']), error);
        const { client, detail } = await connectThrough(listener, v1('192.0.2.99', '192.0.2.1', 4242, 8883), 4);
        assert.equal(detail['remoteAddress'], '192.0.2.99');
        await closeClient(client);
      });
    }
  }
});

describe('proxyProtocol: which listeners', () => {
  it('takes true (the TCP listener), false, or a list of distinct listeners; refuses anything else, naming the field', () => {
    assert.equal(expectsProxyHeader(resolveConfig({ proxyProtocol: true }), 'tcp'), true);
    assert.equal(expectsProxyHeader(resolveConfig({ proxyProtocol: true }), 'tls'), false, 'true keeps its meaning: TCP only');
    assert.equal(expectsProxyHeader(resolveConfig({}), 'tcp'), false);
    const listed = resolveConfig({ proxyProtocol: ['tls', 'wss'] });
    assert.deepEqual(
      (['tcp', 'tls', 'ws', 'wss'] as const).map((l) => expectsProxyHeader(listed, l)),
      [false, true, false, true],
    );
    for (const value of [['tls', 'tls'], ['mqtts'], 'tls', 1]) {
      assert.throws(
        () => resolveConfig({ proxyProtocol: value as never }),
        /config\.proxyProtocol(: expected a boolean .* or a list|\[0\]: Invalid option: expected one of "tcp"\|"tls"\|"ws"\|"wss")/,
      );
    }
  });
});
