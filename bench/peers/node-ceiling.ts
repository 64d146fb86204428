/**
 * The Node ceiling as a benchmark peer: what one Node thread can relay with
 * no broker around it. A child process entry serving a TCP port:
 *
 *   node dist/bench/peers/node-ceiling.js --port 1883 [--host 127.0.0.1]
 *
 * It frames MQTT 3.1.1 by hand and knows only what the relay scenarios
 * (fan-in, fan-out, connection-storm) use: CONNECT gets CONNACK, SUBSCRIBE
 * gets SUBACK granting QoS 0, PINGREQ gets PINGRESP, and each PUBLISH is
 * written as it came to every subscriber of its topic (exact filters in a
 * map; filters with wildcards matched one by one), with corked writes
 * flushed once per event-loop turn. No sessions, no QoS, no retained
 * messages, no limits: a broker can only do less per message than this, so
 * a broker's rate over this one is the share of Node's limit it reaches.
 * Exits on SIGTERM or SIGINT.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/** The subscribers of each exact topic, and the wildcard filters with theirs. */
const exact = new Map<string, Set<net.Socket>>();
const wildcards = new Map<string, Set<net.Socket>>();
/** Sockets corked in this turn, uncorked once when it ends. */
const corked = new Set<net.Socket>();

function flush(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

function send(socket: net.Socket, bytes: Buffer): void {
  if (!corked.has(socket)) {
    if (corked.size === 0) setImmediate(flush);
    socket.cork();
    corked.add(socket);
  }
  socket.write(bytes);
}

function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function subscribe(socket: net.Socket, packet: Buffer, bodyStart: number): void {
  const packetId = packet.readUInt16BE(bodyStart);
  const granted: number[] = [];
  for (let at = bodyStart + 2; at < packet.length;) {
    const length = packet.readUInt16BE(at);
    const filter = packet.toString('utf8', at + 2, at + 2 + length);
    at += 3 + length;
    const table = filter.includes('+') || filter.includes('#') ? wildcards : exact;
    let subscribers = table.get(filter);
    if (!subscribers) table.set(filter, (subscribers = new Set()));
    subscribers.add(socket);
    granted.push(0);
  }
  send(socket, Buffer.from([0x90, 2 + granted.length, packetId >> 8, packetId & 0xff, ...granted]));
}

function relay(packet: Buffer, bodyStart: number): void {
  const length = packet.readUInt16BE(bodyStart);
  const topic = packet.toString('utf8', bodyStart + 2, bodyStart + 2 + length);
  const subscribers = exact.get(topic);
  if (subscribers) for (const socket of subscribers) send(socket, packet);
  for (const [filter, sockets] of wildcards) if (matches(filter, topic)) for (const socket of sockets) send(socket, packet);
}

function forget(socket: net.Socket): void {
  for (const table of [exact, wildcards]) for (const subscribers of table.values()) subscribers.delete(socket);
}

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let at = 0;
    while (at + 2 <= data.length) {
      let remaining = 0;
      let multiplier = 1;
      let lengthBytes = 0;
      let complete = false;
      while (at + 1 + lengthBytes < data.length && lengthBytes < 4) {
        const byte = data[at + 1 + lengthBytes]!;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      const end = at + 1 + lengthBytes + remaining;
      if (!complete || end > data.length) break;
      const packet = data.subarray(at, end);
      const bodyStart = 1 + lengthBytes;
      switch (packet[0]! >> 4) {
        case 1:
          send(socket, CONNACK);
          break;
        case 3:
          relay(packet, bodyStart);
          break;
        case 8:
          subscribe(socket, packet, bodyStart);
          break;
        case 12:
          send(socket, PINGRESP);
          break;
        case 14:
          socket.end();
          break;
      }
      at = end;
    }
    if (at < data.length) pending = Buffer.from(data.subarray(at));
  });
  socket.on('error', () => undefined);
  socket.on('close', () => forget(socket));
}

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } },
  strict: true,
});
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write(`node-ceiling: bad --port ${String(values.port)}\n`);
  process.exit(2);
}
net.createServer(serve).listen(port, values.host);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
