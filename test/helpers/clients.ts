/**
 * Integration-test helpers around mqtt.js v5: connect a client (3.1.1 or 5.0)
 * with a unique client id and no automatic reconnect, over TCP or over a
 * stream the test makes, record every PUBLISH it
 * receives (in wire order, from the moment the socket opens), and wait for messages or events
 * with a bound. Nothing here sleeps to decide an outcome except
 * `expectNoMessage`, which first does a round trip with the broker. Runs on
 * the test process's main thread.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import mqtt from 'mqtt';
import type { IClientOptions, IConnackPacket, IPublishPacket, MqttClient } from 'mqtt';

export type Version = 4 | 5;
export const VERSIONS: readonly Version[] = [4, 5];

/** Default bound for waits in integration tests, in milliseconds. */
export const WAIT_MS = 5_000;

let idCounter = 0;
/** A client id unique to this process and run: `<prefix>-<counter>-<random>` (stays under 23 chars for short prefixes). */
export function uniqueId(prefix = 'c'): string {
  idCounter++;
  return `${prefix}-${idCounter}-${randomBytes(3).toString('hex')}`;
}

/** A topic unique to this run, under `root`. */
export function uniqueTopic(root = 't'): string {
  return `${root}/${uniqueId('x')}`;
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

export type TestClient = MqttClient & {
  /** The CONNACK this client got. */
  connack: IConnackPacket;
  /** The client id sent in CONNECT (may be '' when the broker assigned one). */
  clientId: string;
  version: Version;
};

export type ConnectOptions = Omit<IClientOptions, 'protocolVersion'> & {
  version?: Version;
  /** Bound on the CONNECT/CONNACK exchange, in milliseconds. */
  timeoutMs?: number;
};

class Inbox {
  readonly queue: Received[] = [];
  private readonly waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void }> = [];

  push(m: Received): void {
    const i = this.waiters.findIndex((w) => w.match(m));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(m);
    } else {
      this.queue.push(m);
    }
  }

  take(match: (m: Received) => boolean): Received | undefined {
    const i = this.queue.findIndex(match);
    if (i < 0) return undefined;
    return this.queue.splice(i, 1)[0];
  }

  wait(match: (m: Received) => boolean, resolve: (m: Received) => void): () => void {
    const w = { match, resolve };
    this.waiters.push(w);
    return () => {
      const i = this.waiters.indexOf(w);
      if (i >= 0) this.waiters.splice(i, 1);
    };
  }
}

const inboxes = new WeakMap<MqttClient, Inbox>();
const openClients = new Set<MqttClient>();

function inboxOf(client: MqttClient): Inbox {
  const inbox = inboxes.get(client);
  if (!inbox) throw new Error('client was not created by connectClient()');
  return inbox;
}

/** Options for a persistent session: clean = false, and on 5.0 a Session Expiry Interval. */
export function persistent(version: Version, sessionExpiryInterval = 300): Partial<ConnectOptions> {
  return version === 5 ? { clean: false, properties: { sessionExpiryInterval } } : { clean: false };
}

/**
 * Connects an mqtt.js client (protocol 4 or 5, reconnectPeriod 0) to TCP port
 * `to` of 127.0.0.1, or over the stream `to` returns, and resolves once
 * CONNACK arrives; rejects on a refusal, a close, or after the bound.
 * This is mqtt.connectAsync's contract, built on mqtt.connect so the recorder
 * is attached before the socket opens: a message the broker sends right after
 * CONNACK (a resumed session) is never missed.
 */
export function connectClient(to: number | (() => Duplex), opts: ConnectOptions = {}): Promise<TestClient> {
  const { version = 4, timeoutMs = WAIT_MS, ...rest } = opts;
  const clientId = rest.clientId ?? uniqueId(version === 5 ? 'c5' : 'c4');
  const options: IClientOptions = {
    host: '127.0.0.1',
    port: typeof to === 'number' ? to : 0,
    protocol: 'mqtt',
    protocolVersion: version,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    keepalive: 30,
    ...rest,
    clientId,
  };
  const client = typeof to === 'number' ? mqtt.connect(options) : new mqtt.MqttClient(to, options);
  const inbox = new Inbox();
  inboxes.set(client, inbox);
  openClients.add(client);
  // Recorded in wire order as PUBLISH packets arrive: mqtt.js itself emits 'message' for
  // QoS 2 only at PUBREL, which can reorder QoS 2 after later QoS 0/1 messages.
  client.on('packetreceive', (packet) => {
    if (packet.cmd !== 'publish') return;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload);
    inbox.push({ topic: packet.topic, payload, packet });
  });
  client.on('close', () => openClients.delete(client));
  // An 'error' without a listener would throw; failures surface through the promises below.
  client.on('error', () => {});
  return new Promise<TestClient>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      client.removeListener('connect', onConnect);
      client.end(true);
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`CONNECT of ${clientId} not acknowledged within ${timeoutMs} ms`)), timeoutMs);
    const onConnect = (connack: IConnackPacket): void => {
      clearTimeout(timer);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      resolve(Object.assign(client, { connack, clientId, version }));
    };
    const onError = (err: Error): void => fail(err);
    const onClose = (): void => fail(new Error(`connection of ${clientId} closed before CONNACK`));
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}

/**
 * Resolves with the first recorded message matching `predicate` (all when
 * omitted) and removes it from the client's inbox; rejects after `timeoutMs`.
 */
export function nextMessage(client: MqttClient, predicate: (m: Received) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Received> {
  const inbox = inboxOf(client);
  const found = inbox.take(predicate);
  if (found) return Promise.resolve(found);
  return new Promise<Received>((resolve, reject) => {
    const timer = setTimeout(() => {
      cancel();
      const pending = inbox.queue.map((m) => m.topic).join(', ') || 'none';
      reject(new Error(`no matching message within ${timeoutMs} ms (unmatched messages held: ${pending})`));
    }, timeoutMs);
    const cancel = inbox.wait(predicate, (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

/** Resolves with `count` messages matching `predicate`, in arrival order. */
export async function nextMessages(
  client: MqttClient,
  count: number,
  predicate: (m: Received) => boolean = () => true,
  timeoutMs = WAIT_MS,
): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  const out: Received[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await nextMessage(client, predicate, Math.max(1, deadline - Date.now())));
  }
  return out;
}

/** Messages recorded but not yet taken by nextMessage(). */
export function pendingMessages(client: MqttClient): readonly Received[] {
  return inboxOf(client).queue;
}

/** One request/response round trip with the broker (UNSUBSCRIBE of a filter nobody holds → UNSUBACK). */
export async function roundTrip(client: MqttClient, timeoutMs = WAIT_MS): Promise<void> {
  await withBound(client.unsubscribeAsync(`barrier/${uniqueId('b')}`), timeoutMs, 'UNSUBSCRIBE round trip');
}

/**
 * Asserts that no message matching `predicate` is (or gets) recorded for
 * `client`: first a round trip with the broker, then a bounded wait of `ms`.
 * Use it only after a barrier has made any wrongly delivered message due.
 */
export async function expectNoMessage(client: MqttClient, ms = 200, predicate: (m: Received) => boolean = () => true): Promise<void> {
  await roundTrip(client);
  await new Promise((r) => setTimeout(r, ms));
  const unexpected = inboxOf(client).queue.filter(predicate);
  if (unexpected.length > 0) {
    const list = unexpected.map((m) => `${m.topic} ${JSON.stringify(m.payload.toString())} qos=${m.packet.qos}`).join('; ');
    throw new Error(`unexpected message(s): ${list}`);
  }
}

/**
 * Resolves with the arguments of the first `event` from `emitter` for which
 * `predicate` holds; rejects after `timeoutMs`. Register it before the action
 * that causes the event.
 */
export function once<T extends unknown[] = unknown[]>(
  emitter:
    | EventEmitter
    | {
        on(e: string, l: (...a: any[]) => void): unknown;
        off?(e: string, l: (...a: any[]) => void): unknown;
        removeListener?(e: string, l: (...a: any[]) => void): unknown;
      },
  event: string,
  timeoutMs = WAIT_MS,
  predicate: (...args: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const remove = (): void => {
      const e = emitter as {
        off?: (ev: string, l: (...a: any[]) => void) => unknown;
        removeListener?: (ev: string, l: (...a: any[]) => void) => unknown;
      };
      if (e.off) e.off(event, listener);
      else e.removeListener?.(event, listener);
    };
    const timer = setTimeout(() => {
      remove();
      reject(new Error(`event '${event}' not seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: any[]): void => {
      if (!predicate(...(args as T))) return;
      clearTimeout(timer);
      remove();
      resolve(args as T);
    };
    emitter.on(event, listener);
  });
}

/** Ends a client cleanly (DISCONNECT), bounded; a closed client is fine. */
export async function closeClient(client: MqttClient, timeoutMs = 2_000): Promise<void> {
  if (!client.connected) {
    client.end(true);
    openClients.delete(client);
    return;
  }
  try {
    await withBound(client.endAsync(), timeoutMs, 'client.endAsync()');
  } catch {
    client.end(true);
  }
  openClients.delete(client);
}

/** Closes the client's socket without DISCONNECT (an abnormal close as the broker sees it). */
export function dropConnection(client: MqttClient): void {
  const stream = (client as unknown as { stream?: { destroy(): void } }).stream;
  stream?.destroy();
  client.end(true);
}

/** Forcibly ends every client that connectClient() made and that is still open (use in after/afterEach). */
export async function closeAllClients(): Promise<void> {
  const clients = [...openClients];
  openClients.clear();
  await Promise.all(clients.map((c) => new Promise<void>((resolve) => c.end(true, {}, () => resolve()))));
}

/** Resolves or rejects like `promise`, or rejects after `ms` naming `what`. */
export function withBound<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
