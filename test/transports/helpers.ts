/**
 * Helpers of the transport tests (WebSocket, TLS, WSS): a broker on
 * 127.0.0.1 with port 0 for every listener, throwaway certificates made with
 * openssl in a temp dir, mqtt.js clients, and bounded waits. No fixed sleeps:
 * every wait is for an event, under a deadline.
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { Broker, createBroker } from '../../src/main/broker.js';
import type { BrokerConfig, LogLevel } from '../../src/api/config.js';
import type { SessionEventDetails } from '../../src/shared/channel/frames.js';
import { withBound } from '../helpers/clients.js';
import type { TransportName } from '../../src/shared/transport.js';

/** Bound of every wait in these tests, in ms. */
export const WAIT_MS = 5_000;

/** withBound with these tests' argument order and default bound. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return withBound(promise, ms, what);
}

/** The 'client-connected' detail of `clientId`, bounded. */
export function connectedDetail(broker: Broker, clientId: string): Promise<SessionEventDetails['client-connected']> {
  return within(
    new Promise((resolve) => {
      const onConnected = (id: string, detail: SessionEventDetails['client-connected']): void => {
        if (id !== clientId) return;
        broker.off('client-connected', onConnected);
        resolve(detail);
      };
      broker.on('client-connected', onConnected);
    }),
    `client-connected of ${clientId}`,
  );
}

/** The next `event` of `emitter`, bounded. */
export function next<T extends unknown[] = unknown[]>(emitter: EventEmitter | MqttClient, event: string, what = event): Promise<T> {
  return within(once(emitter as EventEmitter, event) as Promise<T>, what);
}

/** Starts a broker: silent (or SHOAL_TEST_LOG), one worker, 127.0.0.1, port 0 for every listener asked for. */
export async function startBroker(overrides: Partial<BrokerConfig> = {}): Promise<Broker> {
  const logLevel = (process.env['SHOAL_TEST_LOG'] as LogLevel | undefined) ?? 'silent';
  const broker = createBroker({ host: '127.0.0.1', port: 0, workers: 1, logLevel, ...overrides });
  await within(broker.listen(), 'broker.listen()', 15_000);
  return broker;
}

export async function closeBroker(broker: Broker): Promise<void> {
  await within(broker.close(), 'broker.close()', 10_000);
}

export type Transport = TransportName;

/** The URL of `broker`'s listener for `transport`. */
export function urlOf(broker: Broker, transport: Transport): string {
  const address = broker.addresses()[transport];
  if (!address) throw new Error(`broker has no ${transport} listener`);
  const scheme = { tcp: 'mqtt', ws: 'ws', tls: 'mqtts', wss: 'wss' }[transport];
  const path = transport === 'ws' || transport === 'wss' ? broker.config.wsPath : '';
  return `${scheme}://127.0.0.1:${address.port}${path}`;
}

/** An mqtt.js client and the messages it received, in order. */
export interface TestClient {
  client: MqttClient;
  messages: IPublishPacket[];
  sessionPresent: boolean;
  /** The `count`-th message (1-based) received, waiting for it if needed. */
  message(count: number): Promise<IPublishPacket>;
  end(): Promise<void>;
}

/** Connects mqtt.js (no reconnects); messages are recorded from the first packet on. */
export async function connect(url: string, protocolVersion: 4 | 5, options: IClientOptions = {}): Promise<TestClient> {
  const client = mqtt.connect(url, { protocolVersion, reconnectPeriod: 0, connectTimeout: WAIT_MS, ...options });
  const messages: IPublishPacket[] = [];
  const recorded = new EventEmitter();
  client.on('message', (_topic, _payload, packet) => {
    messages.push(packet);
    recorded.emit('message');
  });
  const connack = await within(
    new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
      client.once('close', () => reject(new Error(`connection to ${url} closed before CONNACK`)));
    }),
    `CONNACK from ${url}`,
  );
  client.on('error', () => undefined);
  return {
    client,
    messages,
    sessionPresent: connack.sessionPresent,
    async message(count) {
      while (messages.length < count) await next(recorded, 'message', `message #${count} on ${url}`);
      return messages[count - 1] as IPublishPacket;
    },
    async end() {
      await within(client.endAsync(!client.connected), `end of client on ${url}`);
    },
  };
}

export interface Certs {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function signed(dir: string, name: string, subject: string, extensions: string, serial: number): void {
  openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-set_serial',
    String(serial),
    '-days',
    '2',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * A throwaway CA, a server certificate for 127.0.0.1 (SAN IP:127.0.0.1) and a
 * client certificate, all signed by that CA, in a new temp dir.
 */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tls-'));
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Shoal test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  signed(
    dir,
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
    2,
  );
  signed(
    dir,
    'client',
    '/CN=shoal-test-client',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    3,
  );
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

let topicSeq = 0;
/** A topic no other test uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}/${process.pid}/${++topicSeq}`;
}
