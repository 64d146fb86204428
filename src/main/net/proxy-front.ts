/**
 * A PROXY protocol header in front of TLS or HTTP: the TLS, WebSocket and
 * WSS listeners named in `proxyProtocol` listen with a plain TCP server that
 * reads each connection's header (proxy-protocol.ts) before any byte of the
 * TLS ClientHello or the HTTP upgrade, as a load balancer passing TLS through
 * sends it, then hands the socket, with the bytes after the header put back,
 * to the listener's own TLS or HTTP server (its 'connection' event). The
 * client the header names is kept by the socket's own remote address and port
 * (unique among open connections, and what the TLS socket wrapping it
 * reports too) until the socket closes, and stands in for the socket's
 * address in the connection's TransportInfo. A missing, malformed or late
 * header (not complete within `connectTimeoutMs`) closes the socket with a
 * warning naming the listener. The TCP listener reads its header in
 * `Connection` instead. Main thread.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { BrokerConfig } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';
import type { TransportInfo, TransportName } from '../../shared/transport.js';
import { transportOf } from './connection.js';
import { ProxyHeaderReader, ProxyProtocolError, type ProxyHeader } from './proxy-protocol.js';

type Client = NonNullable<ProxyHeader['source']>;

function socketKey(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
}

export class ProxyFront {
  /** The server that listens; `inner` never does. */
  readonly server: Server;
  /** The real client of each open connection whose header named one, by the socket's remote address and port. */
  private readonly clients = new Map<string, Client>();

  constructor(
    private readonly inner: Server,
    private readonly type: TransportName,
    private readonly headerTimeoutMs: number,
    private readonly log: Logger,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.readHeader(socket));
  }

  /** The TransportInfo of a socket `inner` serves (or the TLS socket over it): the header's client, else the socket's own. */
  transportOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): TransportInfo {
    const client = this.clients.get(socketKey(socket));
    if (client === undefined) return transportOf(this.type, socket);
    return { type: this.type, remoteAddress: client.address, remotePort: client.port };
  }

  private readHeader(socket: Socket): void {
    const key = socketKey(socket);
    const proxy = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
    const reader = new ProxyHeaderReader();
    // Errors of the socket itself: the TLS or HTTP server reports its own once it has the socket.
    socket.on('error', () => undefined);
    const refuse = (reason: string): void => {
      this.log.warn({ type: this.type, ...proxy, err: reason }, 'bad PROXY protocol header, closing');
      socket.destroy();
    };
    const timer = setTimeout(() => refuse(`no complete PROXY protocol header within ${this.headerTimeoutMs} ms`), this.headerTimeoutMs);
    const onData = (chunk: Buffer): void => {
      let result;
      try {
        result = reader.push(chunk);
      } catch (err) {
        if (!(err instanceof ProxyProtocolError)) throw err;
        stop();
        refuse(err.message);
        return;
      }
      if (!result) return;
      stop();
      socket.pause();
      if (result.rest.length > 0) socket.unshift(result.rest);
      const { header } = result;
      if (header.command === 'proxy' && header.source) {
        this.clients.set(key, header.source);
        socket.once('close', () => this.clients.delete(key));
      }
      this.log.debug(
        {
          type: this.type,
          proxy,
          version: header.version,
          command: header.command,
          source: header.source,
          destination: header.destination,
        },
        'PROXY protocol header',
      );
      this.inner.emit('connection', socket);
      // A TLS server takes the bytes put back itself; an HTTP server reads the socket's handle, and gets them only as 'data'.
      if (!(this.inner instanceof TlsServer)) socket.resume();
    };
    const stop = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', stop);
    };
    socket.on('data', onData);
    socket.once('close', stop);
  }
}

/** Whether connections to the listener `type` start with a PROXY protocol header (`proxyProtocol: true` names the TCP listener alone). */
export function expectsProxyHeader(config: Pick<BrokerConfig, 'proxyProtocol'>, type: TransportName): boolean {
  const { proxyProtocol } = config;
  return Array.isArray(proxyProtocol) ? proxyProtocol.includes(type) : proxyProtocol && type === 'tcp';
}

/** How a listener over `server` listens, and names the client of a socket `server` serves. */
export interface ListenerFront {
  /** The server to listen with: `server` itself, or the ProxyFront's before it. */
  listening: Server;
  /** The TransportInfo of a socket (or TLS socket) `server` serves. */
  peerOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): TransportInfo;
  proxyProtocol: boolean;
}

/** `server` as it is, or behind a ProxyFront when `proxyProtocol` names the listener `type`. */
export function listenerFront(server: Server, type: TransportName, config: BrokerConfig, log: Logger): ListenerFront {
  if (!expectsProxyHeader(config, type)) return { listening: server, peerOf: (socket) => transportOf(type, socket), proxyProtocol: false };
  const front = new ProxyFront(server, type, config.connectTimeoutMs, log);
  return { listening: front.server, peerOf: (socket) => front.transportOf(socket), proxyProtocol: true };
}
