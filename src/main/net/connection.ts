/**
 * One client transport on the main thread: its byte stream, its framer, its
 * keepalive and connect deadlines, and corked writes flushed once per batch.
 * The stream is any `Duplex`: a TCP or TLS socket, a WebSocket wrapped as a
 * byte stream (src/main/net/ws-listener.ts), or a stream the embedding
 * application hands to `Broker.handle`; one that allows half-open use is
 * closed when its readable side ends, as a listener's socket is. It knows
 * which actor host serves its session, not the session itself. With `proxyProtocol`, the stream starts
 * with a PROXY protocol header (src/main/net/proxy-protocol.ts): it is read before
 * any MQTT byte, under the same connect deadline, and the real client's
 * address replaces the socket's in `transport`. QoS 0 PUBLISHes to a client
 * that does not read fast enough are dropped here, and the Topic Aliases such
 * drops hide from a 5.0 client are taught again (src/main/net/lost-aliases.ts).
 * Main thread.
 */
import type { Duplex } from 'node:stream';
import { Framer } from '../../shared/codec/framer.js';
import { generateWithReason } from '../../shared/codec/packet-io.js';
import { ProtocolError } from '../../shared/codec/protocol-error.js';
import { ReasonCode } from '../../shared/codec/reason-codes.js';
import type { Logger } from '../../shared/log.js';
import type { TransportDropReason, TransportInfo } from '../../shared/channel/frames.js';
import type { TransportName } from '../../shared/transport.js';
import { LostAliases } from './lost-aliases.js';
import type { Traffic } from './traffic.js';
import { ProxyHeaderReader, ProxyProtocolError } from './proxy-protocol.js';

export interface ConnectionOwner {
  /** Counts every packet read and written. */
  readonly traffic: Traffic;
  onPacket(conn: Connection, packet: Buffer): void;
  onClose(conn: Connection, reason: string): void;
  /** The connection corked its socket; the owner uncorks it after the current batch. */
  corked(conn: Connection): void;
  /**
   * A QoS 0 PUBLISH was dropped: the socket held over maxBufferBytes
   * (`queue_full`), or the topic of an alias the client missed made it too
   * large (`max_packet_size_exceeded`).
   */
  droppedQos0(conn: Connection, packet: Uint8Array, reason: TransportDropReason): void;
}

/** The TransportInfo of a socket (or any stream with its address fields): its peer's address, or '' and 0 where it has none. */
export function transportOf(
  type: TransportName,
  socket: { remoteAddress?: string | undefined; remotePort?: number | undefined },
): TransportInfo {
  return { type, remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 };
}

/** What a socket offers beyond `Duplex`; used only where the stream has it. */
interface SocketExtras {
  setNoDelay?(noDelay?: boolean): unknown;
  destroySoon?(): void;
}

/** `Connection.host` while its CONNECT moves to the host that owns its session (src/main/connect-moves.ts). */
export const MOVING = -2;

export class Connection {
  /** Actor host of the session, once CONNECT was forwarded; -1 before; MOVING while the CONNECT moves to another host. */
  host = -1;
  /** Protocol level from the CONNECT (3, 4 or 5); 0 before. */
  protocolVersion = 0;
  /** Set when the session accepted the CONNECT. */
  accepted = false;
  /** Reads are paused by inbound flow control: its host fell behind. */
  private hostPaused = false;
  /** Reads are paused until this timer fires: the session throttled its client. */
  private throttleTimer: NodeJS.Timeout | undefined;
  private throttledUntil = 0;
  keepaliveMs = 0;
  /** The largest packet the client accepts (its Maximum Packet Size, capped by ours); 0 = no limit. */
  maxOutgoingPacketSize = 0;
  /** QoS 0 PUBLISHes dropped here: the client did not read fast enough, or one would have exceeded its Maximum Packet Size. */
  droppedQos0 = 0;
  lastActivity: number;
  readonly openedAt: number;
  /** When its CONNECT was handed to a host (ms since the epoch); 0 before. */
  connectAt = 0;
  /** The reason code abort() closed it with; 0 when it was not aborted. */
  closeCode = 0;
  private readonly framer: Framer;
  private isCorked = false;
  private closeReason = 'connection closed';
  private closed = false;
  private transportInfo: TransportInfo;
  /** 5.0: Topic Aliases the client missed because a PUBLISH setting them was dropped; created on the first drop. */
  private lostAliases: LostAliases | undefined;
  /** Set until the PROXY protocol header is read, when the listener expects one. */
  private proxyHeader: ProxyHeaderReader | undefined;

  constructor(
    readonly id: number,
    private readonly socket: Duplex & SocketExtras,
    transport: TransportInfo,
    maxPacketSize: number,
    private readonly owner: ConnectionOwner,
    private readonly log: Logger,
    private readonly maxBufferBytes: number,
    proxyProtocol = false,
  ) {
    this.openedAt = this.lastActivity = Date.now();
    this.transportInfo = transport;
    if (proxyProtocol) this.proxyHeader = new ProxyHeaderReader();
    const traffic = owner.traffic;
    this.framer = new Framer(maxPacketSize, (packet) => {
      traffic.received(packet);
      owner.onPacket(this, packet);
    });
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason = `socket error: ${err.message}`;
    });
    socket.on('close', () => {
      this.closed = true;
      clearTimeout(this.throttleTimer);
      owner.onClose(this, this.closeReason);
    });
    // A half-open stream stays writable once its peer stopped sending; a socket of our listeners is closed instead.
    if (socket.allowHalfOpen) socket.once('end', () => this.end());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Reads are paused, by inbound flow control or a throttle; keepalive is not checked meanwhile. */
  get paused(): boolean {
    return this.hostPaused || this.throttleTimer !== undefined;
  }

  /** The largest packet the client may send from now on (its session's limit, from a plugin). */
  setMaxPacketSize(bytes: number): void {
    this.framer.maxPacketSize = bytes;
  }

  /** Transport and client address; with the PROXY protocol, the forwarded client once the header is read. */
  get transport(): TransportInfo {
    return this.transportInfo;
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    if (this.proxyHeader) {
      const rest = this.readProxyHeader(this.proxyHeader, chunk);
      if (rest === undefined || rest.length === 0) return;
      chunk = rest;
    }
    try {
      this.framer.push(chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.log.info({ connId: this.id, reasonCode: err.reasonCode, err: err.message }, 'bad packet framing, closing');
      this.abort(err.reasonCode, err.message);
    }
  }

  /** Feeds the PROXY header reader; returns the bytes after a complete header, undefined while it is incomplete or bad. */
  private readProxyHeader(reader: ProxyHeaderReader, chunk: Buffer): Buffer | undefined {
    const socketAddress = { remoteAddress: this.transportInfo.remoteAddress, remotePort: this.transportInfo.remotePort };
    let result;
    try {
      result = reader.push(chunk);
    } catch (err) {
      if (!(err instanceof ProxyProtocolError)) throw err;
      this.log.warn({ connId: this.id, ...socketAddress, err: err.message }, 'bad PROXY protocol header, closing');
      this.destroy(`bad PROXY protocol header: ${err.message}`);
      return undefined;
    }
    if (!result) return undefined;
    this.proxyHeader = undefined;
    const { header } = result;
    if (header.command === 'proxy' && header.source) {
      this.transportInfo = { ...this.transportInfo, remoteAddress: header.source.address, remotePort: header.source.port };
    }
    this.log.debug(
      {
        connId: this.id,
        proxy: socketAddress,
        version: header.version,
        command: header.command,
        source: header.source,
        destination: header.destination,
      },
      'PROXY protocol header',
    );
    return result.rest;
  }

  /** Queues bytes for the socket; a PUBLISH goes through outgoingPublish() first. */
  write(bytes: Uint8Array): void {
    if (this.closed) return;
    if ((bytes[0]! & 0xf0) === 0x30) {
      const publish = this.outgoingPublish(bytes);
      if (publish === undefined) return;
      bytes = publish;
    }
    if (!this.isCorked) {
      this.isCorked = true;
      this.socket.cork();
      this.owner.corked(this);
    }
    this.owner.traffic.sent(bytes, this.protocolVersion);
    this.socket.write(bytes);
  }

  /**
   * A QoS 0 PUBLISH is dropped while the socket holds over maxBufferBytes.
   * While the client misses a Topic Alias because of such a drop, a PUBLISH
   * that uses it alone is re-encoded with its topic (LostAliases); one that
   * would then exceed the client's Maximum Packet Size is dropped at QoS 0
   * and ends the connection at QoS 1 and 2 (a session that persists resends
   * it on the next one). Returns the bytes to write, undefined when none.
   */
  private outgoingPublish(bytes: Uint8Array): Uint8Array | undefined {
    const qos0 = (bytes[0]! & 0x06) === 0;
    if (qos0 && this.socket.writableLength > this.maxBufferBytes) {
      this.dropQos0(bytes, 'queue_full');
      return undefined;
    }
    const lost = this.lostAliases;
    if (lost === undefined || lost.size === 0) return bytes;
    const repaired = lost.repair(bytes, this.maxOutgoingPacketSize);
    if (repaired !== undefined) return repaired;
    if (qos0) this.dropQos0(bytes, 'max_packet_size_exceeded');
    else
      this.abort(
        ReasonCode.ImplementationSpecificError,
        'a PUBLISH with a Topic Alias the client missed exceeds its Maximum Packet Size with the topic',
      );
    return undefined;
  }

  private dropQos0(bytes: Uint8Array, reason: TransportDropReason): void {
    this.droppedQos0++;
    this.owner.droppedQos0(this, bytes, reason);
    if (this.protocolVersion === 5) (this.lostAliases ??= new LostAliases()).dropped(bytes);
  }

  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.socket.uncork();
  }

  pause(): void {
    this.hostPaused = true;
    this.socket.pause();
  }

  /** Inbound flow control lets the reads go on, unless a throttle still holds them. */
  resume(): void {
    this.hostPaused = false;
    this.readAgain();
  }

  /**
   * Stops reading for `ms` (what was read is still handled): the client's
   * further packets wait in the kernel's buffers, and TCP slows it down. A
   * throttle that ends later than the current one extends it.
   */
  throttle(ms: number): void {
    const until = Date.now() + ms;
    if (this.closed || until <= this.throttledUntil) return;
    this.throttledUntil = until;
    this.socket.pause();
    // A client over its rate sends a throttle with each packet read: one timer, moved on when it fires early.
    if (this.throttleTimer === undefined) this.waitThrottle(ms);
  }

  private waitThrottle(ms: number): void {
    this.throttleTimer = setTimeout(() => {
      const left = this.throttledUntil - Date.now();
      if (left > 0) return this.waitThrottle(left);
      this.throttleTimer = undefined;
      this.throttledUntil = 0;
      this.readAgain();
    }, ms);
    this.throttleTimer.unref();
  }

  /** Reads resume when nothing holds them; the time spent paused by the broker does not count against the keepalive. */
  private readAgain(): void {
    if (this.paused || this.closed) return;
    this.lastActivity = Date.now();
    this.socket.resume();
  }

  /** Closes after pending writes are flushed. */
  end(): void {
    this.uncork();
    const socket = this.socket;
    if (typeof socket.destroySoon === 'function') {
      socket.destroySoon();
      return;
    }
    // What net.Socket#destroySoon does, for any Duplex.
    if (socket.writable) socket.end();
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  }

  /**
   * Closes at once; a 5.0 client that was accepted first gets DISCONNECT with
   * `reasonCode` and `reason` as its Reason String, which is left out when it
   * would not fit the client's Maximum Packet Size [MQTT-3.14.2-3].
   */
  abort(reasonCode: number, reason: string): void {
    this.closeCode = reasonCode;
    this.closeReason = reason;
    if (this.accepted && this.protocolVersion === 5 && !this.closed) {
      const disconnect = generateWithReason({ cmd: 'disconnect', reasonCode }, reason, this.maxOutgoingPacketSize);
      if (disconnect) this.write(disconnect);
      this.end();
      return;
    }
    this.socket.destroy();
  }

  destroy(reason: string): void {
    this.closeReason = reason;
    this.socket.destroy();
  }
}
