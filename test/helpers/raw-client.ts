/**
 * A raw TCP MQTT client for integration tests that need to see or control
 * what mqtt.js hides: exact CONNACK fields, the DUP flag and packet ids of
 * redeliveries, withheld acknowledgements, a server DISCONNECT and its reason
 * code, keepalive expiry, malformed or out-of-order packets. Packets are
 * encoded and decoded with mqtt-packet; every wait is bounded. Runs on the
 * test process's main thread.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, Packet, PacketCmd } from 'mqtt-packet';
import { uniqueId, WAIT_MS, type Version } from './clients.js';

const openRawClients = new Set<RawClient>();

export interface CloseResult {
  /** Packets received and not yet taken when the connection closed (e.g. a DISCONNECT). */
  packets: Packet[];
  /** Milliseconds from RawClient creation (socket connected) to close. */
  at: number;
}

export class RawClient {
  private readonly queue: Packet[] = [];
  private waiter: { cmd?: PacketCmd; skip: boolean; resolve: (p: Packet) => void; reject: (e: Error) => void } | undefined;
  private closeWaiters: Array<() => void> = [];
  private parser: ReturnType<typeof mqttPacket.parser>;
  private readonly openedAt = Date.now();
  /** Time (ms since the socket connected) the connection closed, once it has. */
  closedAt: number | undefined;
  /** Decoding errors of bytes the server sent. */
  readonly parseErrors: Error[] = [];
  readonly received: Packet[] = [];

  private constructor(
    readonly socket: net.Socket,
    public version: Version | 3,
  ) {
    this.parser = this.makeParser(version);
    socket.on('data', (chunk) => this.parser.parse(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closedAt = Date.now() - this.openedAt;
      openRawClients.delete(this);
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(new Error(`connection closed while waiting for ${w.cmd ?? 'a packet'} (unread: ${this.describeQueue()})`));
      for (const resolve of this.closeWaiters.splice(0)) resolve();
    });
  }

  /** Opens a TCP connection to 127.0.0.1:`port`; decodes server packets as `version` until a CONNECT says otherwise. */
  static connect(port: number, version: Version | 3 = 4, timeoutMs = WAIT_MS): Promise<RawClient> {
    return new Promise<RawClient>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TCP connect to ${port} timed out`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        const client = new RawClient(socket, version);
        openRawClients.add(client);
        resolve(client);
      });
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  private makeParser(version: Version | 3): ReturnType<typeof mqttPacket.parser> {
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on('packet', (packet: Packet) => {
      this.received.push(packet);
      const w = this.waiter;
      if (w && (w.cmd === undefined || w.cmd === packet.cmd || !w.skip)) {
        this.waiter = undefined;
        w.resolve(packet);
      } else {
        this.queue.push(packet);
      }
    });
    parser.on('error', (err: Error) => this.parseErrors.push(err));
    return parser;
  }

  /** Changes how server packets are decoded (only between packets). */
  setVersion(version: Version | 3): void {
    this.version = version;
    (this.parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = version;
  }

  /** Encodes and sends `packet` as protocol `version` (default: this client's). A CONNECT sets the version. */
  send(packet: Packet, version?: Version | 3): void {
    if (packet.cmd === 'connect') {
      const v = (packet.protocolVersion ?? version ?? this.version) as Version | 3;
      this.setVersion(v);
      packet = { ...packet, protocolVersion: v };
    }
    this.sendBytes(mqttPacket.generate(packet, { protocolVersion: version ?? this.version }));
  }

  sendBytes(bytes: Buffer | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /**
   * Resolves with the next packet the server sends. With `cmd`, it must be of
   * that type (the promise rejects otherwise, naming what came instead).
   */
  expectPacket<C extends PacketCmd>(cmd?: C, timeoutMs = WAIT_MS): Promise<Extract<Packet, { cmd: C }>> {
    return this.take(cmd, false, timeoutMs) as Promise<Extract<Packet, { cmd: C }>>;
  }

  /** Resolves with the first packet of type `cmd`, leaving packets of other types queued. */
  waitForPacket<C extends PacketCmd>(cmd: C, timeoutMs = WAIT_MS): Promise<Extract<Packet, { cmd: C }>> {
    return this.take(cmd, true, timeoutMs) as Promise<Extract<Packet, { cmd: C }>>;
  }

  private take(cmd: PacketCmd | undefined, skip: boolean, timeoutMs: number): Promise<Packet> {
    if (this.waiter) return Promise.reject(new Error('RawClient: only one packet wait at a time'));
    const i = skip && cmd ? this.queue.findIndex((p) => p.cmd === cmd) : this.queue.length > 0 ? 0 : -1;
    if (i >= 0) {
      const [p] = this.queue.splice(i, 1);
      return Promise.resolve(check(p!));
    }
    if (this.closed) return Promise.reject(new Error(`connection already closed; no ${cmd ?? 'packet'} (unread: ${this.describeQueue()})`));
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no ${cmd ?? 'packet'} within ${timeoutMs} ms (unread: ${this.describeQueue()})`));
      }, timeoutMs);
      this.waiter = {
        ...(cmd ? { cmd } : {}),
        skip,
        resolve: (p) => {
          clearTimeout(timer);
          try {
            resolve(check(p));
          } catch (err) {
            reject(err as Error);
          }
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });

    function check(p: Packet): Packet {
      if (cmd !== undefined && p.cmd !== cmd) {
        throw new Error(`expected ${cmd}, got ${p.cmd}: ${describe(p)}`);
      }
      return p;
    }
  }

  /** Packets received and not yet taken. */
  unread(): readonly Packet[] {
    return this.queue;
  }

  private describeQueue(): string {
    return this.queue.map(describe).join('; ') || 'none';
  }

  /** Resolves when the server closes the connection (rejects after `timeoutMs`); hands back unread packets. */
  expectClose(timeoutMs = WAIT_MS): Promise<CloseResult> {
    const done = (): CloseResult => ({ packets: this.queue.splice(0), at: this.closedAt as number });
    if (this.closed) return Promise.resolve(done());
    return new Promise<CloseResult>((resolve, reject) => {
      const onClose = (): void => {
        clearTimeout(timer);
        resolve(done());
      };
      const timer = setTimeout(() => {
        this.closeWaiters = this.closeWaiters.filter((f) => f !== onClose);
        reject(new Error(`connection still open after ${timeoutMs} ms (unread: ${this.describeQueue()})`));
      }, timeoutMs);
      this.closeWaiters.push(onClose);
    });
  }

  /**
   * Sends CONNECT (protocol `version`, a unique client id unless given, clean
   * unless given) and resolves with the CONNACK that must come next.
   */
  async handshake(fields: Partial<IConnectPacket> = {}, timeoutMs = WAIT_MS): Promise<IConnackPacket> {
    const packet: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.version as Version,
      clean: true,
      keepalive: 0,
      clientId: uniqueId(this.version === 5 ? 'r5' : 'r4'),
      ...fields,
    };
    this.send(packet);
    return this.expectPacket('connack', timeoutMs);
  }

  /** Sends DISCONNECT (reason 0 on 5.0 unless given) and ends the socket. */
  disconnect(reasonCode?: number): void {
    this.send(this.version === 5 ? { cmd: 'disconnect', reasonCode: reasonCode ?? 0 } : { cmd: 'disconnect' });
    this.socket.end();
  }

  /** Closes the socket without DISCONNECT and resolves once it is closed. */
  destroy(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.closeWaiters.push(resolve);
      this.socket.destroy();
    });
  }
}

/** One-line description of a packet for failure messages. */
export function describe(p: Packet): string {
  const { cmd, ...rest } = p as Packet & Record<string, unknown>;
  const fields = Object.entries(rest)
    .filter(([k]) => k !== 'length')
    .map(([k, v]) => `${k}=${Buffer.isBuffer(v) ? JSON.stringify(v.toString()) : JSON.stringify(v)}`);
  return `${cmd}{${fields.join(' ')}}`;
}

/**
 * Encodes a CONNECT and patches bytes mqtt-packet refuses to produce: the
 * protocol level, clean = 0 with an empty client id, or any connect flags.
 */
export function connectBytes(
  packet: Omit<IConnectPacket, 'cmd'>,
  patch: { protocolLevel?: number; cleanStart?: boolean; flags?: (flags: number) => number } = {},
): Buffer {
  const bytes = Buffer.from(mqttPacket.generate({ cmd: 'connect', ...packet }, { protocolVersion: packet.protocolVersion ?? 4 }));
  let i = 1;
  while (((bytes[i] as number) & 0x80) !== 0) i++;
  const nameStart = i + 1;
  const nameLength = bytes.readUInt16BE(nameStart);
  const levelAt = nameStart + 2 + nameLength;
  if (patch.protocolLevel !== undefined) bytes[levelAt] = patch.protocolLevel;
  if (patch.cleanStart !== undefined) {
    const flags = bytes[levelAt + 1] as number;
    bytes[levelAt + 1] = patch.cleanStart ? flags | 0x02 : flags & ~0x02;
  }
  if (patch.flags) bytes[levelAt + 1] = patch.flags(bytes[levelAt + 1] as number) & 0xff;
  return bytes;
}

/** Destroys every RawClient still open (use in after/afterEach). */
export async function closeAllRawClients(): Promise<void> {
  await Promise.all([...openRawClients].map((c) => c.destroy()));
}
