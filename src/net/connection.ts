/**
 * One client transport on the main thread: its byte stream, its framer, its
 * keepalive and connect deadlines, and corked writes flushed once per batch.
 * The stream is any `Duplex`: a TCP or TLS socket, or a WebSocket wrapped as a
 * byte stream (src/net/ws-listener.ts). It knows which actor host serves its
 * session, not the session itself. Main thread.
 */
import type { Duplex } from 'node:stream';
import { encodeDisconnectV5 } from '../codec/disconnect.js';
import { Framer } from '../codec/framer.js';
import { ProtocolError } from '../codec/protocol-error.js';
import type { Logger } from '../log.js';
import type { TransportInfo } from '../messages.js';

export interface ConnectionOwner {
  onPacket(conn: Connection, packet: Buffer): void;
  onClose(conn: Connection, reason: string): void;
  /** The connection corked its socket; the owner uncorks it after the current batch. */
  corked(conn: Connection): void;
}

/** What a socket offers beyond `Duplex`; used only where the stream has it. */
interface SocketExtras {
  setNoDelay?(noDelay?: boolean): unknown;
  destroySoon?(): void;
}

export class Connection {
  /** Actor host of the session, once CONNECT was forwarded; -1 before. */
  host = -1;
  /** Protocol level from the CONNECT (3, 4 or 5); 0 before. */
  protocolVersion = 0;
  /** Set when the session accepted the CONNECT. */
  accepted = false;
  keepaliveMs = 0;
  /** QoS 0 PUBLISHes dropped because the client did not read fast enough. */
  droppedQos0 = 0;
  lastActivity: number;
  readonly openedAt: number;
  private readonly framer: Framer;
  private isCorked = false;
  private closeReason = 'connection closed';
  private closed = false;

  constructor(
    readonly id: number,
    private readonly socket: Duplex & SocketExtras,
    readonly transport: TransportInfo,
    maxPacketSize: number,
    private readonly owner: ConnectionOwner,
    private readonly log: Logger,
    private readonly maxBufferBytes: number,
  ) {
    this.openedAt = this.lastActivity = Date.now();
    this.framer = new Framer(maxPacketSize, (packet) => owner.onPacket(this, packet));
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason = `socket error: ${err.message}`;
    });
    socket.on('close', () => {
      this.closed = true;
      owner.onClose(this, this.closeReason);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    try {
      this.framer.push(chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.log.info({ connId: this.id, reasonCode: err.reasonCode, err: err.message }, 'bad packet framing, closing');
      this.abort(err.reasonCode, err.message);
    }
  }

  /** Queues bytes for the socket; a QoS 0 PUBLISH is dropped while the socket holds over maxBufferBytes. */
  write(bytes: Uint8Array): void {
    if (this.closed) return;
    if (((bytes[0] as number) & 0xf6) === 0x30 && this.socket.writableLength > this.maxBufferBytes) {
      this.droppedQos0++;
      return;
    }
    if (!this.isCorked) {
      this.isCorked = true;
      this.socket.cork();
      this.owner.corked(this);
    }
    this.socket.write(bytes);
  }

  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.socket.uncork();
  }

  pause(): void {
    this.socket.pause();
  }

  /** Reads resume; the time spent paused by the broker does not count against the keepalive. */
  resume(): void {
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

  /** Closes at once; a 5.0 client that was accepted first gets DISCONNECT with `reasonCode`. */
  abort(reasonCode: number, reason: string): void {
    this.closeReason = reason;
    if (this.accepted && this.protocolVersion === 5 && !this.closed) {
      this.write(encodeDisconnectV5(reasonCode));
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
