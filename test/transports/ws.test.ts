/**
 * MQTT over WebSocket (src/main/net/ws-listener.ts): pub/sub with mqtt.js for
 * 3.1.1 and 5.0, subprotocol choice, a raw `ws` client sending two packets
 * in one frame and one packet over two frames, refusal of text frames and of
 * other paths, and attachWebSocket on an http.Server of the application.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { WebSocket, WebSocketServer } from 'ws';
import type { Broker } from '../../src/main/broker.js';
import { closeBroker, connect, next, startBroker, uniqueTopic, urlOf, within } from './helpers.js';

const VERSIONS = [4, 5] as const;

/** A raw WebSocket client speaking MQTT bytes; decodes what it receives with mqtt-packet. */
class RawClient {
  readonly packets: Packet[] = [];
  private readonly events = new EventEmitter();
  private constructor(
    readonly ws: WebSocket,
    protocolVersion: number,
  ) {
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.events.emit('packet');
    });
    ws.on('message', (data: Buffer) => parser.parse(data));
  }

  static async open(url: string, protocols: string[], protocolVersion: number): Promise<RawClient> {
    const ws = new WebSocket(url, protocols);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      `WebSocket open ${url}`,
    );
    return new RawClient(ws, protocolVersion);
  }

  /** The `count`-th packet (1-based) received, waiting for it if needed. */
  async packet(count: number): Promise<Packet> {
    while (this.packets.length < count) await next(this.events, 'packet', `packet #${count}`);
    return this.packets[count - 1] as Packet;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = next(this.ws, 'close', 'WebSocket close');
    this.ws.close();
    await closed;
  }
}

function connectPacket(clientId: string, protocolVersion: 4 | 5): Buffer {
  return mqttPacket.generate(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion,
      clientId,
      clean: true,
      keepalive: 30,
    },
    { protocolVersion },
  );
}

describe('MQTT over WebSocket listener', () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker({ wsPort: 0 });
  });
  after(async () => {
    await closeBroker(broker);
  });

  it('reports its address next to the TCP one', () => {
    const addresses = broker.addresses();
    assert.ok(addresses.tcp && addresses.ws);
    assert.notEqual(addresses.ws.port, 0);
    assert.notEqual(addresses.ws.port, addresses.tcp.port);
    assert.equal(addresses.tls, undefined);
    assert.equal(addresses.wss, undefined);
  });

  for (const version of VERSIONS) {
    it(`pub/sub between WebSocket clients and with a TCP client (MQTT v${version})`, async () => {
      const topic = uniqueTopic(`ws/v${version}`);
      const sub = await connect(urlOf(broker, 'ws'), version);
      const wsPub = await connect(urlOf(broker, 'ws'), version);
      const tcpPub = await connect(urlOf(broker, 'tcp'), version);
      try {
        await within(sub.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK');
        await within(wsPub.client.publishAsync(topic, 'over ws', { qos: 1 }), 'PUBACK');
        await within(tcpPub.client.publishAsync(topic, Buffer.alloc(70_000, 0x5a), { qos: 0 }), 'publish');
        const first = await sub.message(1);
        assert.equal(first.topic, topic);
        assert.equal(first.payload.toString(), 'over ws');
        assert.equal(first.qos, 1);
        const second = await sub.message(2);
        assert.deepEqual(second.payload, Buffer.alloc(70_000, 0x5a));
      } finally {
        await Promise.all([sub.end(), wsPub.end(), tcpPub.end()]);
      }
    });

    it(`takes two packets in one frame and one packet over two frames (MQTT v${version})`, async () => {
      const topic = uniqueTopic(`raw/v${version}`);
      const raw = await RawClient.open(urlOf(broker, 'ws'), ['mqtt'], version);
      try {
        assert.equal(raw.ws.protocol, 'mqtt');
        const subscribe = mqttPacket.generate(
          {
            cmd: 'subscribe',
            messageId: 1,
            subscriptions: [{ topic, qos: 0 }],
          },
          { protocolVersion: version },
        );
        raw.ws.send(Buffer.concat([connectPacket(`raw-v${version}`, version), subscribe]));
        const connack = await raw.packet(1);
        assert.equal(connack.cmd, 'connack');
        assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0);
        const suback = await raw.packet(2);
        assert.equal(suback.cmd, 'suback');

        // 300-byte payload: a 2-byte remaining length, split between its two bytes.
        const payload = Buffer.alloc(300, 0x41);
        const publish = mqttPacket.generate(
          {
            cmd: 'publish',
            topic,
            payload,
            qos: 0,
            retain: false,
            dup: false,
          },
          { protocolVersion: version },
        );
        raw.ws.send(publish.subarray(0, 2));
        raw.ws.send(publish.subarray(2));
        const echoed = await raw.packet(3);
        assert.equal(echoed.cmd, 'publish');
        assert.equal(echoed.cmd === 'publish' && echoed.topic, topic);
        assert.deepEqual(echoed.cmd === 'publish' && Buffer.from(echoed.payload), payload);

        // PUBLISH + PINGREQ in one frame, then each packet split three ways over one frame boundary.
        const ping = mqttPacket.generate({ cmd: 'pingreq' }, { protocolVersion: version });
        raw.ws.send(Buffer.concat([publish, ping, publish.subarray(0, 100)]));
        raw.ws.send(publish.subarray(100));
        // PINGRESP comes from the session, the PUBLISHes through the router: any order.
        const answers = [await raw.packet(4), await raw.packet(5), await raw.packet(6)];
        assert.deepEqual(answers.map((p) => p.cmd).sort(), ['pingresp', 'publish', 'publish']);
        for (const p of answers) if (p.cmd === 'publish') assert.deepEqual(Buffer.from(p.payload), payload);
      } finally {
        await raw.close();
      }
    });
  }

  it('answers the subprotocol the client offered, and serves a client that offered none', async () => {
    const cases: Array<{ offered: string[]; chosen: string }> = [
      { offered: ['mqttv3.1'], chosen: 'mqttv3.1' },
      { offered: ['other', 'mqtt'], chosen: 'mqtt' },
      { offered: [], chosen: '' },
    ];
    for (const [i, { offered, chosen }] of cases.entries()) {
      const raw = await RawClient.open(urlOf(broker, 'ws'), offered, 4);
      try {
        assert.equal(raw.ws.protocol, chosen, `offered ${JSON.stringify(offered)}`);
        raw.ws.send(connectPacket(`subprotocol-${i}`, 4));
        const connack = await raw.packet(1);
        assert.equal(connack.cmd, 'connack');
      } finally {
        await raw.close();
      }
    }
  });

  it('closes a connection that sends a text frame', async () => {
    const raw = await RawClient.open(urlOf(broker, 'ws'), ['mqtt'], 4);
    const closed = next(raw.ws, 'close', 'close after a text frame');
    raw.ws.send('not binary');
    await closed;
  });

  it('refuses other paths with 404 and plain HTTP requests with 426', async () => {
    const port = (broker.addresses().ws as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`, ['mqtt']);
    ws.on('error', () => undefined);
    const [, response] = await within(
      new Promise<[unknown, { statusCode?: number }]>((resolve, reject) => {
        ws.once('unexpected-response', (req, res) => {
          resolve([req, res]);
          req.destroy();
        });
        ws.once('open', () => reject(new Error('upgrade on another path was accepted')));
      }),
      'answer on another path',
    );
    assert.equal(response.statusCode, 404);

    const status = await within(
      new Promise<number | undefined>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/mqtt' }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
          .on('error', reject)
          .end();
      }),
      'plain HTTP answer',
    );
    assert.equal(status, 426);
  });
});

describe('attachWebSocket on an http.Server of the application', () => {
  let broker: Broker;
  let server: Server;
  let appWss: WebSocketServer;
  let port: number;
  before(async () => {
    broker = await startBroker();
    server = createServer((_req, res) => res.end('app page'));
    // The application's own WebSocket endpoint on another path.
    appWss = new WebSocketServer({ noServer: true });
    appWss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/app') appWss.handleUpgrade(req, socket, head, (ws) => appWss.emit('connection', ws, req));
    });
    await within(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 'app server listen');
    port = (server.address() as AddressInfo).port;
    broker.attachWebSocket(server);
    broker.attachWebSocket(server, '/custom');
  });
  after(async () => {
    await closeBroker(broker);
    // Still the application's: it serves after the broker is gone.
    const page = await within(fetchText(`http://127.0.0.1:${port}/`), 'app page after broker close');
    assert.equal(page, 'app page');
    assert.equal(server.listenerCount('upgrade'), 1, 'the broker left its upgrade listeners behind');
    appWss.close();
    server.closeAllConnections();
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 'app server close');
  });

  for (const version of VERSIONS) {
    it(`serves MQTT on wsPath and on a path of its own (MQTT v${version})`, async () => {
      const topic = uniqueTopic(`attached/v${version}`);
      const sub = await connect(`ws://127.0.0.1:${port}/mqtt`, version);
      const pub = await connect(`ws://127.0.0.1:${port}/custom`, version);
      try {
        await within(sub.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK');
        await within(pub.client.publishAsync(topic, 'attached', { qos: 1 }), 'PUBACK');
        const message = await sub.message(1);
        assert.equal(message.payload.toString(), 'attached');
      } finally {
        await Promise.all([sub.end(), pub.end()]);
      }
    });
  }

  it('leaves the application its other paths', async () => {
    assert.equal(await within(fetchText(`http://127.0.0.1:${port}/`), 'app page'), 'app page');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app`);
    await next(ws, 'open', 'app WebSocket open');
    const echoed = next<[Buffer]>(ws, 'message', 'app echo');
    ws.send('hello app');
    assert.equal((await echoed)[0].toString(), 'hello app');
    const closed = next(ws, 'close', 'app WebSocket close');
    ws.close();
    await closed;
  });

  it('is not in addresses(): the application owns the port', () => {
    assert.equal(broker.addresses().ws, undefined);
  });
});

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}
