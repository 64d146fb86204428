/**
 * PROXY protocol v1 and v2 on the TCP listener (src/main/net/proxy-protocol.ts,
 * config `proxyProtocol`): the parser on its own (whole and byte by byte),
 * then raw sockets that write a header and a CONNECT (mqtt-packet) to a
 * broker, checking the forwarded address in the 'client-connected' detail;
 * malformed, oversized, missing and late headers close the socket while the
 * broker keeps serving others. Every wait is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Broker } from '../../src/main/broker.js';
import type { SessionEventDetails } from '../../src/shared/channel/frames.js';
import { parseCli } from '../../src/main/cli/args.js';
import { resolveConfig } from '../../src/api/config-schema.js';
import {
  formatIPv6,
  parseProxyHeader,
  PROXY_V1_MAX_BYTES,
  PROXY_V2_MAX_BYTES,
  ProxyHeaderReader,
  ProxyProtocolError,
} from '../../src/main/net/proxy-protocol.js';
import { closeBroker, connectedDetail, startBroker, uniqueTopic, within } from './helpers.js';

const VERSIONS = [4, 5] as const;
const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v1 header line. */
function v1(protocol: string, src = '', dst = '', sport = 0, dport = 0): Buffer {
  return Buffer.from(protocol === 'UNKNOWN' ? 'PROXY UNKNOWN\r\n' : `PROXY ${protocol} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1');
}

function ipBytes(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand '::' and write the eight groups.
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A v2 header: command 0 LOCAL / 1 PROXY, family/protocol byte, addresses, then `tlv` bytes. */
function v2(command: number, familyProtocol: number, src = '', dst = '', sport = 0, dport = 0, tlv: Buffer = Buffer.alloc(0)): Buffer {
  const addresses =
    src === ''
      ? Buffer.alloc(0)
      : Buffer.concat([ipBytes(src), ipBytes(dst), Buffer.from([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff])]);
  const body = Buffer.concat([addresses, tlv]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = familyProtocol;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

/** A PP2_TYPE_AUTHORITY TLV (ignored by the broker). */
const AUTHORITY_TLV = Buffer.concat([Buffer.from([0x02, 0x00, 0x0b]), Buffer.from('example.com')]);

function connectPacket(clientId: string, protocolVersion: 4 | 5): Buffer {
  return mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean: true, keepalive: 30 },
    { protocolVersion },
  );
}

let idSeq = 0;
function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${++idSeq}`;
}

/** A raw TCP client: writes bytes, decodes what comes back. */
class RawSocket {
  readonly packets: Packet[] = [];
  closed = false;
  private readonly events = new EventEmitter();
  private constructor(
    readonly socket: net.Socket,
    protocolVersion: number,
  ) {
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.events.emit('packet');
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.closed = true;
      this.events.emit('close');
    });
  }

  static async open(port: number, protocolVersion: number = 4): Promise<RawSocket> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      `TCP connect to ${port}`,
    );
    return new RawSocket(socket, protocolVersion);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The `count`-th packet (1-based), waiting for it; rejects if the connection closes first. */
  async packet(count: number): Promise<Packet> {
    while (this.packets.length < count) {
      if (this.closed) throw new Error(`connection closed before packet #${count}`);
      await within(Promise.race([EventEmitter.once(this.events, 'packet'), EventEmitter.once(this.events, 'close')]), `packet #${count}`);
    }
    return this.packets[count - 1] as Packet;
  }

  /** Resolves when the broker closes the connection, within `ms`. */
  async closedByBroker(what: string, ms?: number): Promise<void> {
    if (this.closed) return;
    await within(EventEmitter.once(this.events, 'close'), what, ms);
  }

  close(): void {
    this.socket.destroy();
  }
}

type Detail = SessionEventDetails['client-connected'];

describe('PROXY protocol parser', () => {
  const mqtt = connectPacket('after-header', 4);

  const cases: Array<{
    name: string;
    bytes: Buffer;
    source?: { address: string; port: number };
    destination?: { address: string; port: number };
    command: 'proxy' | 'local';
    version: 1 | 2;
  }> = [
    {
      name: 'v1 TCP4',
      bytes: v1('TCP4', '192.0.2.10', '192.0.2.1', 51234, 1883),
      command: 'proxy',
      version: 1,
      source: { address: '192.0.2.10', port: 51234 },
      destination: { address: '192.0.2.1', port: 1883 },
    },
    {
      name: 'v1 TCP6 (lowercased)',
      bytes: v1('TCP6', '2001:DB8::7', '2001:db8::1', 65535, 0),
      command: 'proxy',
      version: 1,
      source: { address: '2001:db8::7', port: 65535 },
      destination: { address: '2001:db8::1', port: 0 },
    },
    { name: 'v1 UNKNOWN', bytes: v1('UNKNOWN'), command: 'local', version: 1 },
    {
      name: 'v1 UNKNOWN with addresses',
      bytes: Buffer.from('PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 1 2\r\n'),
      command: 'local',
      version: 1,
    },
    {
      name: 'v2 PROXY TCP4 with a TLV',
      bytes: v2(1, 0x11, '203.0.113.5', '203.0.113.1', 40000, 1883, AUTHORITY_TLV),
      command: 'proxy',
      version: 2,
      source: { address: '203.0.113.5', port: 40000 },
      destination: { address: '203.0.113.1', port: 1883 },
    },
    {
      name: 'v2 PROXY TCP6',
      bytes: v2(1, 0x21, '2001:db8:0:0:1::9', 'fe80::1', 443, 8883),
      command: 'proxy',
      version: 2,
      source: { address: '2001:db8::1:0:0:9', port: 443 },
      destination: { address: 'fe80::1', port: 8883 },
    },
    { name: 'v2 LOCAL (addresses ignored)', bytes: v2(0, 0x11, '10.0.0.1', '10.0.0.2', 1, 2), command: 'local', version: 2 },
    { name: 'v2 LOCAL UNSPEC', bytes: v2(0, 0x00), command: 'local', version: 2 },
    { name: 'v2 PROXY UNSPEC', bytes: v2(1, 0x00), command: 'local', version: 2 },
  ];
  for (const c of cases) {
    it(`parses ${c.name}, whole and one byte at a time`, () => {
      const whole = parseProxyHeader(Buffer.concat([c.bytes, mqtt]));
      assert.ok(whole, 'complete header');
      assert.equal(whole.header.version, c.version);
      assert.equal(whole.header.command, c.command);
      assert.deepEqual(whole.header.source && { address: whole.header.source.address, port: whole.header.source.port }, c.source);
      assert.deepEqual(whole.header.destination, c.destination);
      assert.deepEqual(whole.rest, mqtt);

      const reader = new ProxyHeaderReader();
      for (let i = 0; i < c.bytes.length - 1; i++) assert.equal(reader.push(c.bytes.subarray(i, i + 1)), undefined, `byte ${i}`);
      const last = reader.push(Buffer.concat([c.bytes.subarray(-1), mqtt]));
      assert.ok(last);
      assert.deepEqual(last.header, whole.header);
      assert.deepEqual(last.rest, mqtt);
    });
  }

  it('formats IPv6 addresses as RFC 5952 text', () => {
    assert.equal(formatIPv6(ipBytes('::')), '::');
    assert.equal(formatIPv6(ipBytes('::1')), '::1');
    assert.equal(formatIPv6(ipBytes('2001:db8:0:1:0:0:0:1')), '2001:db8:0:1::1');
    assert.equal(formatIPv6(ipBytes('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIPv6(Buffer.from('00000000000000000000ffffc0000201', 'hex')), '::ffff:192.0.2.1');
  });

  const bad: Array<{ name: string; bytes: Buffer }> = [
    { name: 'a CONNECT without header', bytes: mqtt },
    { name: 'HTTP', bytes: Buffer.from('GET / HTTP/1.1\r\n\r\n') },
    { name: 'v1 bad protocol', bytes: Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n') },
    { name: 'v1 bad IPv4', bytes: v1('TCP4', '256.1.1.1', '1.1.1.1', 1, 2) },
    { name: 'v1 IPv6 address with TCP4', bytes: v1('TCP4', '::1', '::1', 1, 2) },
    { name: 'v1 port out of range', bytes: v1('TCP4', '1.1.1.1', '1.1.1.1', 65536, 2) },
    { name: 'v1 port with a leading zero', bytes: Buffer.from('PROXY TCP4 1.1.1.1 1.1.1.1 01 2\r\n') },
    { name: 'v1 missing field', bytes: Buffer.from('PROXY TCP4 1.1.1.1 1.1.1.1 1\r\n') },
    { name: 'v1 double space', bytes: Buffer.from('PROXY TCP4  1.1.1.1 1.1.1.1 1 2\r\n') },
    { name: 'v1 binary byte', bytes: Buffer.from('PROXY TCP4 1.1.1.1\x10') },
    { name: 'v1 without CRLF within 107 bytes', bytes: Buffer.from(`PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_BYTES)}`) },
    { name: 'v2 version 1', bytes: Buffer.concat([V2_SIGNATURE, Buffer.from([0x11, 0x11, 0x00, 0x00])]) },
    { name: 'v2 unknown command', bytes: Buffer.concat([V2_SIGNATURE, Buffer.from([0x22, 0x11, 0x00, 0x0c])]) },
    { name: 'v2 over the size bound', bytes: Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]) },
    { name: 'v2 TCP4 too short', bytes: Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4])]) },
    { name: 'v2 TCP6 too short', bytes: v2(1, 0x21, '1.2.3.4', '1.2.3.4', 1, 2) },
    { name: 'v2 UDP', bytes: v2(1, 0x12, '1.2.3.4', '1.2.3.4', 1, 2) },
    { name: 'v2 unknown family', bytes: v2(1, 0x41, '1.2.3.4', '1.2.3.4', 1, 2) },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => {
        const reader = new ProxyHeaderReader();
        for (let i = 0; i < c.bytes.length; i++) reader.push(c.bytes.subarray(i, i + 1));
        throw new Error('no error after the last byte');
      }, ProxyProtocolError);
    });
  }

  it(`bounds a v2 header at ${PROXY_V2_MAX_BYTES} bytes`, () => {
    const tlv = Buffer.alloc(PROXY_V2_MAX_BYTES - 16 - 12);
    assert.ok(parseProxyHeader(v2(1, 0x11, '1.2.3.4', '5.6.7.8', 1, 2, tlv)));
    assert.throws(
      () => parseProxyHeader(v2(1, 0x11, '1.2.3.4', '5.6.7.8', 1, 2, Buffer.concat([tlv, Buffer.alloc(1)]))),
      ProxyProtocolError,
    );
  });

  it('is a config field (default off) and the --proxy-protocol flag', () => {
    assert.equal(resolveConfig().proxyProtocol, false);
    assert.equal(resolveConfig({ proxyProtocol: true }).proxyProtocol, true);
    assert.throws(() => resolveConfig({ proxyProtocol: 'yes' as unknown as boolean }), /config\.proxyProtocol/);
    assert.equal(parseCli(['--proxy-protocol']).config.proxyProtocol, true);
    assert.equal(parseCli([]).config.proxyProtocol, undefined);
  });
});

describe('PROXY protocol on the TCP listener', () => {
  let broker: Broker;
  let port: number;
  before(async () => {
    broker = await startBroker({ proxyProtocol: true, connectTimeoutMs: 600 });
    port = (broker.addresses().tcp as net.AddressInfo).port;
  });
  after(async () => {
    await closeBroker(broker);
  });

  /** Writes `header` and a CONNECT (in `split` writes), expects CONNACK; returns the client-connected detail. */
  async function connectThrough(header: Buffer, version: 4 | 5, split = 1): Promise<{ raw: RawSocket; detail: Detail; clientId: string }> {
    const clientId = uniqueId('proxied');
    const detail = connectedDetail(broker, clientId);
    const raw = await RawSocket.open(port, version);
    const bytes = Buffer.concat([header, connectPacket(clientId, version)]);
    const step = Math.ceil(bytes.length / split);
    for (let i = 0; i < bytes.length; i += step) raw.write(bytes.subarray(i, i + step));
    const connack = await raw.packet(1);
    assert.equal(connack.cmd, 'connack');
    return { raw, detail: await detail, clientId };
  }

  for (const version of VERSIONS) {
    it(`v1 TCP4 and TCP6: the session sees the forwarded client (MQTT v${version})`, async () => {
      const four = await connectThrough(v1('TCP4', '198.51.100.23', '198.51.100.1', 49152, 1883), version);
      const six = await connectThrough(v1('TCP6', '2001:db8::23', '2001:db8::1', 50000, 1883), version, 3);
      try {
        assert.equal(four.detail['transport'], 'tcp');
        assert.equal(four.detail['remoteAddress'], '198.51.100.23');
        assert.equal(four.detail['remotePort'], 49152);
        assert.equal(six.detail['remoteAddress'], '2001:db8::23');
        assert.equal(six.detail['remotePort'], 50000);
      } finally {
        four.raw.close();
        six.raw.close();
      }
    });

    it(`v2 PROXY TCP4 (with a TLV) and TCP6, header split over writes (MQTT v${version})`, async () => {
      const four = await connectThrough(v2(1, 0x11, '203.0.113.77', '203.0.113.1', 61000, 1883, AUTHORITY_TLV), version, 5);
      const six = await connectThrough(v2(1, 0x21, '2001:db8:ab::77', '2001:db8::1', 62000, 1883), version);
      try {
        assert.equal(four.detail['remoteAddress'], '203.0.113.77');
        assert.equal(four.detail['remotePort'], 61000);
        assert.equal(six.detail['remoteAddress'], '2001:db8:ab::77');
        assert.equal(six.detail['remotePort'], 62000);
      } finally {
        four.raw.close();
        six.raw.close();
      }
    });
  }

  it('v2 LOCAL and v1 UNKNOWN keep the socket address', async () => {
    for (const header of [v2(0, 0x00), v1('UNKNOWN')]) {
      const { raw, detail } = await connectThrough(header, 4);
      try {
        assert.equal(detail['remoteAddress'], '127.0.0.1');
        assert.equal(detail['remotePort'], raw.socket.localPort);
      } finally {
        raw.close();
      }
    }
  });

  it('proxied clients publish and subscribe as usual', async () => {
    const topic = uniqueTopic('proxied');
    const sub = await connectThrough(v1('TCP4', '192.0.2.1', '192.0.2.254', 1000, 1883), 5);
    const pub = await connectThrough(v2(1, 0x11, '192.0.2.2', '192.0.2.254', 1001, 1883), 4);
    try {
      sub.raw.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }, { protocolVersion: 5 }));
      assert.equal((await sub.raw.packet(2)).cmd, 'suback');
      pub.raw.write(
        mqttPacket.generate(
          { cmd: 'publish', topic, payload: Buffer.from('via proxy'), qos: 1, messageId: 7, retain: false, dup: false },
          { protocolVersion: 4 },
        ),
      );
      assert.equal((await pub.raw.packet(2)).cmd, 'puback');
      const message = await sub.raw.packet(3);
      assert.equal(message.cmd, 'publish');
      assert.equal(message.cmd === 'publish' && message.payload.toString(), 'via proxy');
    } finally {
      sub.raw.close();
      pub.raw.close();
    }
  });

  const malformed: Array<{ name: string; bytes: Buffer }> = [
    { name: 'no header (a bare CONNECT)', bytes: connectPacket('bare', 4) },
    {
      name: 'a v1 header with a bad address',
      bytes: Buffer.concat([v1('TCP4', '300.1.1.1', '1.1.1.1', 1, 2), connectPacket('bad-v1', 4)]),
    },
    { name: 'a v1 line over 107 bytes', bytes: Buffer.from(`PROXY TCP4 ${'1'.repeat(200)}\r\n`) },
    {
      name: 'a v2 header with version 3',
      bytes: Buffer.concat([V2_SIGNATURE, Buffer.from([0x31, 0x11, 0x00, 0x0c]), Buffer.alloc(12), connectPacket('bad-v2', 4)]),
    },
    {
      name: 'a v2 header over the size bound',
      bytes: Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x40, 0x00]), Buffer.alloc(64)]),
    },
  ];
  for (const { name, bytes } of malformed) {
    it(`closes a connection that starts with ${name}, and keeps serving others`, async () => {
      const raw = await RawSocket.open(port);
      raw.write(bytes);
      await raw.closedByBroker(`close after ${name}`);
      assert.deepEqual(
        raw.packets.map((p) => p.cmd),
        [],
        'no CONNACK',
      );
      const good = await connectThrough(v1('TCP4', '192.0.2.99', '192.0.2.1', 4242, 1883), 4);
      assert.equal(good.detail['remoteAddress'], '192.0.2.99');
      good.raw.close();
    });
  }

  it('closes a connection whose header does not complete within connectTimeoutMs', async () => {
    const raw = await RawSocket.open(port);
    const openedAt = Date.now();
    raw.write(Buffer.from('PROXY TCP4 192.0.2.'));
    await raw.closedByBroker('close of a connection with half a header', 3_000);
    assert.ok(Date.now() - openedAt >= 500, `closed after ${Date.now() - openedAt} ms, before connectTimeoutMs`);
    const silent = await RawSocket.open(port);
    await silent.closedByBroker('close of a silent connection', 3_000);
  });
});

describe('TCP listener without proxyProtocol', () => {
  let broker: Broker;
  before(async () => {
    // A PROXY line reads as the start of a PUBREC that may wait for more bytes: the connect deadline closes it.
    broker = await startBroker({ connectTimeoutMs: 1000 });
  });
  after(async () => {
    await closeBroker(broker);
  });

  it('reports the socket address, and refuses a PROXY header as a bad packet', async () => {
    const port = (broker.addresses().tcp as net.AddressInfo).port;
    const clientId = uniqueId('direct');
    const detail = connectedDetail(broker, clientId);
    const direct = await RawSocket.open(port);
    direct.write(connectPacket(clientId, 4));
    assert.equal((await direct.packet(1)).cmd, 'connack');
    assert.equal((await detail)['remoteAddress'], '127.0.0.1');
    assert.equal((await detail)['remotePort'], direct.socket.localPort);
    direct.close();

    const proxied = await RawSocket.open(port);
    proxied.write(Buffer.concat([v1('TCP4', '192.0.2.1', '192.0.2.2', 1, 2), connectPacket(uniqueId('refused'), 4)]));
    await proxied.closedByBroker('close after a PROXY header on a plain listener');
    assert.deepEqual(proxied.packets, []);
  });
});
