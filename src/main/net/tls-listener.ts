/**
 * MQTT over TLS (`mqtts://`, node:tls on `tlsPort`) and over secure
 * WebSocket (`wss://`, an https server with ws on `wssPort`). Certificate,
 * key and CA come from the PEM files named in the config, read when the
 * listener starts; client certificates are asked for with `tlsRequestCert`.
 * With `proxyProtocol` naming the listener, a PROXY protocol header comes
 * before the handshake (proxy-front.ts). A failed handshake is logged, never
 * fatal. Main thread.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions, type TLSSocket } from 'node:tls';
import type { BrokerConfig } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';
import { listenOn, listenWebSocket, ownListener, trackSockets, upgradeRequired, type AcceptStream, type Listener } from './ws-listener.js';
import type { TransportName } from '../../shared/transport.js';
import { listenerFront, type ListenerFront } from './proxy-front.js';

function readPem(field: 'tlsCert' | 'tlsKey' | 'tlsCa', path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`config.${field}: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * The server options of both TLS listeners. A handshake must be done within
 * `connectTimeoutMs`, the time a plain connection has to send CONNECT.
 */
export function tlsServerOptions(config: BrokerConfig): TlsOptions {
  if (config.tlsCert === '') throw new RangeError('config.tlsCert: required for the TLS and WSS listeners');
  if (config.tlsKey === '') throw new RangeError('config.tlsKey: required for the TLS and WSS listeners');
  const options: TlsOptions = {
    cert: readPem('tlsCert', config.tlsCert),
    key: readPem('tlsKey', config.tlsKey),
    requestCert: config.tlsRequestCert,
    rejectUnauthorized: config.tlsRejectUnauthorized,
    handshakeTimeout: config.connectTimeoutMs,
  };
  if (config.tlsCa !== '') options.ca = readPem('tlsCa', config.tlsCa);
  return options;
}

function logTlsErrors(
  server: { on(event: 'tlsClientError', listener: (err: Error, socket: TLSSocket) => void): unknown },
  type: Extract<TransportName, 'tls' | 'wss'>,
  log: Logger,
  peerOf: ListenerFront['peerOf'],
): void {
  server.on('tlsClientError', (err, socket) => {
    const { remoteAddress, remotePort } = peerOf(socket);
    log.warn({ err: err.message, code: (err as NodeJS.ErrnoException).code, type, remoteAddress, remotePort }, 'TLS client error');
  });
}

/** Starts the `mqtts://` listener on `config.tlsPort` (behind a PROXY protocol header when `proxyProtocol` names `tls`). */
export async function startTlsListener(config: BrokerConfig, accept: AcceptStream, log: Logger): Promise<Listener> {
  const server = createTlsServer(tlsServerOptions(config), (socket: TLSSocket) => {
    accept(socket, front.peerOf(socket));
  });
  const front = listenerFront(server, 'tls', config, log);
  const sockets: Set<Socket> = trackSockets(front.listening);
  logTlsErrors(server, 'tls', log, front.peerOf);
  await listenOn(front.listening, config.tlsPort, config.host);
  front.listening.on('error', (err) => log.error({ err, type: 'tls' }, 'listener error'));
  const listener = ownListener('tls', front.listening, sockets);
  const address = listener.address();
  log.info(
    { type: 'tls', host: address?.address, port: address?.port, requestCert: config.tlsRequestCert, proxyProtocol: front.proxyProtocol },
    'listening',
  );
  return listener;
}

/** Starts the `wss://` listener on `config.wssPort` (behind a PROXY protocol header when `proxyProtocol` names `wss`). */
export function startWssListener(config: BrokerConfig, accept: AcceptStream, log: Logger): Promise<Listener> {
  const server = createHttpsServer(tlsServerOptions(config), upgradeRequired(config.wsPath));
  const front = listenerFront(server, 'wss', config, log);
  logTlsErrors(server, 'wss', log, front.peerOf);
  return listenWebSocket(server, front, config.wssPort, config, accept, log);
}
