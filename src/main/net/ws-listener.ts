/**
 * MQTT over WebSocket (`ws://`; `wss://` with the https server that
 * tls-listener.ts makes): a listener of its own on `wsPort`, or attached to
 * an HTTP(S) server of the embedding application. Each WebSocket becomes a
 * byte stream (`WebSocketStream`) served by an ordinary `Connection`: the
 * Framer cuts packets, so a packet split over frames and several packets in
 * one frame both work. A batch of writes goes out as one binary frame.
 * Also the listener types the broker uses for every optional listener.
 * Main thread.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { BrokerConfig } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';
import type { TransportInfo, TransportName, WebSocketTransportName } from '../../shared/transport.js';
import { transportOf } from './connection.js';
import { listenerFront, type ListenerFront } from './proxy-front.js';

/** WebSocket subprotocols of MQTT, preferred first: 'mqtt' (3.1.1, 5.0), 'mqttv3.1' (3.1). */
export const MQTT_SUBPROTOCOLS: readonly string[] = ['mqtt', 'mqttv3.1'];

/** Hands a new client byte stream to the broker. */
export type AcceptStream = (stream: Duplex, transport: TransportInfo) => void;

/** An optional listener (WebSocket, TLS, WSS), or a WebSocket endpoint attached to an application's server. */
export interface Listener {
  readonly type: TransportName;
  /** Where it listens; undefined when attached to a server of the application. */
  address(): AddressInfo | undefined;
  /** Stops taking new clients; connections already handed to the broker stay open. */
  stop(): void;
  /**
   * Stops taking new clients, drops what is still open on its own server
   * (handshakes in progress, plain HTTP requests) and resolves once that
   * server is closed. The broker destroys its connections first.
   */
  close(): Promise<void>;
}

export interface WebSocketOptions {
  /** HTTP path served; other paths are refused (or, on an application's server, left to it). */
  path: string;
  type: WebSocketTransportName;
  /** Largest WebSocket message accepted, in bytes. */
  maxPayload: number;
  accept: AcceptStream;
  log: Logger;
  /** The TransportInfo of an upgrade request's socket; default: the socket's own address. */
  peerOf?: ListenerFront['peerOf'];
  /**
   * True for a server of our own: an upgrade on another path is refused
   * with 404. On an application's server it is left to the application's
   * other 'upgrade' listeners, and refused only when there is none.
   */
  exclusive: boolean;
}

/** Picks the subprotocol answered to the client: the first of ours it offered, or none (the client is served anyway). */
export function pickSubprotocol(offered: Set<string>): string | false {
  for (const protocol of MQTT_SUBPROTOCOLS) if (offered.has(protocol)) return protocol;
  return false;
}

/**
 * A WebSocket as a byte stream: binary messages in, one binary message per
 * write (or per corked batch, through `_writev`) out. A text message closes
 * it [MQTT-6.0.0-1]. Ending it sends a close frame; destroying it
 * terminates the socket.
 */
export class WebSocketStream extends Duplex {
  constructor(private readonly ws: WebSocket) {
    super({ allowHalfOpen: false });
    // binaryType 'nodebuffer' (the default): every message is one Buffer, fragments joined.
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.destroy(new Error('text WebSocket frame; MQTT needs binary frames [MQTT-6.0.0-1]'));
        return;
      }
      if (!this.push(data as Buffer)) ws.pause();
    });
    ws.once('close', () => {
      // End of the byte stream: 'end', then (allowHalfOpen false) finish and close.
      if (!this.destroyed) this.push(null);
    });
    ws.on('error', (err: Error) => {
      if (!this.destroyed) this.destroy(err);
    });
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.ws.send(chunk, { binary: true }, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    const data = chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.ws.send(data, { binary: true }, callback);
  }

  /** Close handshake; done when the WebSocket is closed (ws terminates a peer that does not answer within 30 s). */
  override _final(callback: (err?: Error | null) => void): void {
    const ws = this.ws;
    if (ws.readyState === ws.CLOSED) {
      callback();
      return;
    }
    ws.once('close', () => callback());
    if (ws.readyState === ws.OPEN) ws.close(1000);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.CLOSED) this.ws.terminate();
    callback(err);
  }
}

/** The path part of a request URL (no query string). */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * Serves MQTT over WebSocket on `options.path` of `server` (HTTP or HTTPS).
 * The returned listener's stop() and close() detach it; they never close
 * `server`.
 */
export function attachWebSocket(server: HttpServer | HttpsServer, options: WebSocketOptions): Listener {
  const { path, type, accept, log } = options;
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    handleProtocols: (offered) => pickSubprotocol(offered),
  });
  let stopped = false;
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (stopped) return;
    if (pathOf(req.url) !== path) {
      if (options.exclusive || server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    const transport = options.peerOf ? options.peerOf(req.socket) : transportOf(type, req.socket);
    const { origin, 'user-agent': userAgent } = req.headers;
    if (origin !== undefined) transport.origin = origin;
    if (userAgent !== undefined) transport.userAgent = userAgent;
    wss.handleUpgrade(req, socket, head, (ws) => {
      log.debug({ ...transport, protocol: ws.protocol }, 'WebSocket connection');
      accept(new WebSocketStream(ws), transport);
    });
  };
  server.on('upgrade', onUpgrade);
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    server.off('upgrade', onUpgrade);
    wss.close();
  };
  return {
    type,
    address: () => undefined,
    stop,
    close: async () => stop(),
  };
}

/** Answers a plain HTTP request to a WebSocket listener: 426 Upgrade Required. */
export function upgradeRequired(path: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close', Upgrade: 'websocket' });
    res.end(`MQTT over WebSocket: connect a WebSocket client to ${path}\n`);
  };
}

/** Listens on `port` and `host`; rejects with the listen error (e.g. EADDRINUSE). */
export function listenOn(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Keeps the set of open sockets of `server`, so that close() can drop those nobody else owns. */
export function trackSockets(server: NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/**
 * A listener over a server of our own that `start` already listens with:
 * `stop()` closes the server to new connections, `close()` also destroys
 * the sockets still open on it and waits for it to close.
 */
export function ownListener(type: TransportName, server: NetServer, sockets: Set<Socket>, detach?: () => void): Listener {
  let closed: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (!closed) {
      detach?.();
      closed = new Promise((resolve) => server.close(() => resolve()));
    }
    return closed;
  };
  return {
    type,
    address: () => {
      const address = server.address();
      return address !== null && typeof address === 'object' ? address : undefined;
    },
    stop: () => {
      void stop();
    },
    close: async () => {
      const done = stop();
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}

/**
 * Starts a WebSocket listener on `port` of `config.host` with `server`
 * (a new HTTP or HTTPS server) as `front` says (behind a PROXY protocol
 * header or not); resolves once it listens.
 */
export async function listenWebSocket(
  server: HttpServer | HttpsServer,
  front: ListenerFront,
  port: number,
  config: BrokerConfig,
  accept: AcceptStream,
  log: Logger,
): Promise<Listener> {
  const type = server instanceof TlsServer ? 'wss' : 'ws';
  const { listening, peerOf } = front;
  const sockets = trackSockets(listening);
  const ws = attachWebSocket(server, {
    path: config.wsPath,
    type,
    maxPayload: config.maxIncomingPacketSize,
    accept,
    log,
    peerOf,
    exclusive: true,
  });
  await listenOn(listening, port, config.host);
  listening.on('error', (err) => log.error({ err, type }, 'listener error'));
  const listener = ownListener(type, listening, sockets, () => ws.stop());
  const address = listener.address();
  log.info({ type, host: address?.address, port: address?.port, path: config.wsPath, proxyProtocol: front.proxyProtocol }, 'listening');
  return listener;
}

/** Starts the `ws://` listener on `config.wsPort` (behind a PROXY protocol header when `proxyProtocol` names `ws`). */
export function startWebSocketListener(config: BrokerConfig, accept: AcceptStream, log: Logger): Promise<Listener> {
  const server = createHttpServer(upgradeRequired(config.wsPath));
  return listenWebSocket(server, listenerFront(server, 'ws', config, log), config.wsPort, config, accept, log);
}
