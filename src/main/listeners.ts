/**
 * The broker's listeners: the TCP server, the optional WebSocket, TLS and
 * WSS listeners (wsPort, tlsPort, wssPort), each reading a PROXY protocol
 * header first when `proxyProtocol` names it, and the WebSocket endpoints attached to HTTP(S)
 * servers of the embedding application. Each hands its new client byte
 * streams to `accept`. Main thread.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import type { BrokerConfig } from '../api/config.js';
import type { Logger } from '../shared/log.js';
import type { TransportInfo } from '../shared/transport.js';
import { transportOf } from './net/connection.js';
import { expectsProxyHeader } from './net/proxy-front.js';
import { startTlsListener, startWssListener } from './net/tls-listener.js';
import { attachWebSocket, startWebSocketListener, type Listener } from './net/ws-listener.js';

/** Addresses of the started listeners, by transport. */
export interface BrokerAddresses {
  tcp?: AddressInfo;
  ws?: AddressInfo;
  tls?: AddressInfo;
  wss?: AddressInfo;
  /** The monitoring HTTP server (metricsPort): /metrics, /healthz, /readyz, the status page. */
  metrics?: AddressInfo;
}

/** Takes a new client byte stream; `proxyProtocol`: it starts with a PROXY protocol header. */
export type AcceptConnection = (stream: Duplex, transport: TransportInfo, proxyProtocol?: boolean) => void;

export class Listeners {
  private server: Server | undefined;
  private serverClosed: Promise<void> | undefined;
  /** Optional listeners (WebSocket, TLS, WSS) and WebSocket endpoints attached to the application's servers. */
  private readonly transports: Listener[] = [];

  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    private readonly accept: AcceptConnection,
  ) {}

  /** Starts the TCP listener, then the optional ones the config enables; resolves with the TCP address. On a failure none stays open. */
  async listen(): Promise<AddressInfo> {
    const { config, log, accept } = this;
    const proxyProtocol = expectsProxyHeader(config, 'tcp');
    const server = createServer({ noDelay: true }, (socket) => accept(socket, transportOf('tcp', socket), proxyProtocol));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err }, 'listener error'));
    const address = server.address() as AddressInfo;
    log.info({ host: address.address, port: address.port, workers: config.workers, proxyProtocol }, 'listening');
    try {
      const { wsPort, tlsPort, wssPort } = config;
      if (wsPort >= 0) this.transports.push(await startWebSocketListener(config, accept, log));
      if (tlsPort >= 0) this.transports.push(await startTlsListener(config, accept, log));
      if (wssPort >= 0) this.transports.push(await startWssListener(config, accept, log));
    } catch (err) {
      await Promise.all(this.transports.splice(0).map((l) => l.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.server = undefined;
      throw err;
    }
    return address;
  }

  /** Serves MQTT over WebSocket on `path` of an application's HTTP(S) server (`wss` for HTTPS). */
  attachWebSocket(server: HttpServer | HttpsServer, path: string): void {
    if (!path.startsWith('/')) throw new TypeError(`attachWebSocket: path must start with '/', got ${JSON.stringify(path)}`);
    const type = server instanceof TlsServer ? 'wss' : 'ws';
    this.transports.push(
      attachWebSocket(server, {
        path,
        type,
        maxPayload: this.config.maxIncomingPacketSize,
        accept: this.accept,
        log: this.log,
        exclusive: false,
      }),
    );
  }

  /** Addresses of the started listeners; a listener that is off has none. */
  addresses(): BrokerAddresses {
    const addresses: BrokerAddresses = {};
    const tcp = this.server?.address();
    if (tcp && typeof tcp === 'object') addresses.tcp = tcp;
    for (const listener of this.transports) {
      const address = listener.address();
      if (address) addresses[listener.type] = address;
    }
    return addresses;
  }

  /** Every listener started is listening (false before listen() and after stop()). */
  listening(): boolean {
    if (this.server?.listening !== true) return false;
    return this.transports.every((listener) => listener.address() !== undefined);
  }

  /** Stops taking new clients; connections already accepted stay open. */
  stop(): void {
    const server = this.server;
    this.serverClosed ??= server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const listener of this.transports) listener.stop();
  }

  /** Resolves once every listener's server is closed (after the broker destroyed its connections). */
  async close(): Promise<void> {
    this.stop();
    await this.serverClosed;
    await Promise.all(this.transports.map((l) => l.close()));
  }
}
