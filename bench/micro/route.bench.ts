/**
 * Micro-benchmark of the route of one PUBLISH through the main thread and an
 * actor host, without sockets. Per iteration a publisher's "socket read" of
 * 256 PUBLISH packets (16 B payload, topic `sensor/123/temp`, 3.1.1) goes
 * through the same steps as in the broker: on the main thread, a Framer per
 * connection and one `packet` frame per packet into the host's Outbox; in the
 * host, the session actor (topic checks, token bucket, hand decoder, PUBACK
 * for QoS 1) and one `publish` frame per message; back on the main thread,
 * readToRouter, Router.route (trie match) and one `deliver` frame per message;
 * in the host, the subscriber's session (QoS 1: owned copy, packet id,
 * inflight window) and the encoded outbound PUBLISH as a `send` frame; back
 * on the main thread, readToRouter and the write to the subscriber's
 * connection. The iteration ends when the 256th PUBLISH for the subscriber
 * has come back to the main thread; msgs/s and µs/msg count those 256.
 *
 * What is left out is the sockets: the connection objects below stand in for
 * src/net/connection.ts (same Framer, same cork bookkeeping, `lastActivity`
 * per read) but hand written bytes to a client stand-in instead of a socket.
 * The main-thread handlers mirror Broker.onPacket / onHostBatch /
 * handleFromHost (src/broker.ts), including the CONNECT peek and host
 * placement; the Router, Outbox, ActorHost, session code and codecs are the
 * broker's own. Sessions are opened with real CONNECT bytes (`open` frames),
 * the subscription with a real SUBSCRIBE packet, and a probe message is
 * checked byte for byte before timing.
 *
 * Settings that differ from the defaults: logLevel 'silent'; the incoming
 * rate limit at 1e9 msgs/s (the bucket is still consulted per PUBLISH; the
 * default 1000/s would refuse the bench's traffic); maxInflightMessages 1024
 * so the QoS 1 variant's subscriber, which acknowledges each batch of
 * deliveries one event-loop turn later (as a fast client would), is not
 * throttled to 20 in flight. After each run the task checks that every
 * message was routed and delivered once and that the host dropped none.
 *
 * Variants: QoS 0 → QoS 0 and QoS 1 → QoS 1 (publisher and subscription),
 * each with the ActorHost on the main thread over `inlineEndpoints` (the
 * `workers: 0` path) and in one piscina worker via WorkerHosts (the default
 * path). One batch in flight per iteration, so cross-thread latency is part
 * of the worker figures. Runs on the bench's main thread (plus one worker).
 */
import { EventEmitter } from 'node:events';
import mqttPacket from 'mqtt-packet';
import type { Bench } from 'tinybench';
import { ActorHost } from '../../workers/actor-host.js';
import type { QoS } from '../../src/shared/message/app-message.js';
import { BatchReader } from '../../src/shared/channel/batch-reader.js';
import { inlineEndpoints } from '../../src/shared/channel/endpoint.js';
import { Outbox } from '../../src/shared/channel/outbox.js';
import { peekConnect } from '../../src/main/net/connect-peek.js';
import { Framer } from '../../src/shared/codec/framer.js';
import { decodePublish } from '../../src/shared/codec/publish.js';
import { resolveConfig, type BrokerConfig } from '../../src/api/config.js';
import type { HostHandle } from '../../src/main/hosts/host-handle.js';
import type { HostStats } from '../../src/shared/channel/host-control.js';
import { hostFor } from '../../src/main/hosts/placement.js';
import { WorkerHosts } from '../../src/main/hosts/worker-hosts.js';
import { createLogger } from '../../src/shared/log.js';
import { readToRouter, writeClosed, writeDeliver, writeOpen, writePacket, type ToRouter, type TransportInfo } from '../../src/shared/channel/frames.js';
import { Router } from '../../src/main/router/router.js';
import { itemsPerIteration, onCleanup } from './task-info.js';

const PER_ITERATION = 256;
/** Distinct publisher reads (of PER_ITERATION packets each), cycled. */
const CHUNKS = 64;
const TOPIC = 'sensor/123/temp';
const DEFAULT_POOL = '';
const CONNECT = 1, CONNACK = 2, PUBLISH = 3, PUBACK = 4, SUBACK = 9;
const SETUP_TIMEOUT_MS = 10_000;

// ── the client side of the (absent) sockets ─────────────────────────────────

/** What a client receives, by packet type; answers PUBLISH QoS 1 with PUBACK one event-loop turn later. */
class ClientStandIn {
  /** Packets received, by MQTT packet type. */
  readonly received = new Float64Array(16);
  publishes = 0;
  /** Resolves the current iteration when `publishes` reaches `target`. */
  target = -1;
  onTarget: (() => void) | undefined;
  lastPublish: Buffer | undefined;
  keepLastPublish = false;
  private pendingAcks: number[] = [];
  private ackScheduled = false;
  /** The connection this client sends its PUBACKs on. */
  conn: SocketlessConnection | undefined;

  count(type: number): number {
    return this.received[type] as number;
  }

  /** Bytes "arrived" from the broker. `bytes` is a view into a batch: kept only as a copy. */
  receive(bytes: Uint8Array): void {
    const type = (bytes[0] as number) >> 4;
    (this.received[type] as number)++;
    if (type !== PUBLISH) return;
    if (this.keepLastPublish) this.lastPublish = Buffer.from(bytes);
    if (((bytes[0] as number) & 0x06) !== 0) this.pendingAcks.push(publishPacketId(bytes));
    if (++this.publishes === this.target) this.onTarget?.();
  }

  /** The broker uncorked this client's connection: whatever it got is "on the wire"; answer next turn. */
  flushed(): void {
    if (this.pendingAcks.length === 0 || this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const ids = this.pendingAcks;
      this.pendingAcks = [];
      const chunk = Buffer.allocUnsafe(4 * ids.length);
      for (let i = 0; i < ids.length; i++) {
        chunk[4 * i] = 0x40;
        chunk[4 * i + 1] = 0x02;
        chunk.writeUInt16BE(ids[i] as number, 4 * i + 2);
      }
      this.conn?.data(chunk);
    });
  }
}

/** Packet identifier of a QoS 1/2 PUBLISH (3.1.1: after the fixed header and the topic). */
function publishPacketId(bytes: Uint8Array): number {
  let i = 1;
  while (((bytes[i] as number) & 0x80) !== 0) i++;
  i++;
  const topicLength = ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  i += 2 + topicLength;
  return ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
}

// ── the main thread, as in src/broker.ts and src/net/connection.ts ──────────

interface Owner {
  onPacket(conn: SocketlessConnection, packet: Buffer): void;
  corked(conn: SocketlessConnection): void;
}

/** src/net/connection.ts without its socket: the same Framer and cork bookkeeping; writes go to a client stand-in. */
class SocketlessConnection {
  host = -1;
  protocolVersion = 0;
  accepted = false;
  keepaliveMs = 0;
  ended = false;
  lastActivity: number;
  private readonly framer: Framer;
  private isCorked = false;

  constructor(
    readonly id: number,
    readonly transport: TransportInfo,
    maxPacketSize: number,
    private readonly owner: Owner,
    private readonly client: ClientStandIn,
  ) {
    this.lastActivity = Date.now();
    this.framer = new Framer(maxPacketSize, (packet) => owner.onPacket(this, packet));
    client.conn = this;
  }

  /** A socket 'data' event. */
  data(chunk: Buffer): void {
    this.lastActivity = Date.now();
    this.framer.push(chunk);
  }

  write(bytes: Uint8Array): void {
    if (!this.isCorked) {
      this.isCorked = true;
      this.owner.corked(this);
    }
    this.client.receive(bytes); // the broker: socket.write(bytes) inside cork()
  }

  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.client.flushed();
  }

  end(): void {
    this.uncork();
    this.ended = true;
  }
}

/** The broker's main-thread data path for one actor host, minus listeners and sockets. */
class SocketlessBroker extends EventEmitter {
  readonly router: Router;
  readonly connections = new Map<number, SocketlessConnection>();
  private readonly outboxes: Outbox[] = [];
  private readonly hosts: HostHandle[] = [];
  private readonly corked: SocketlessConnection[] = [];
  private readonly credited: number[] = [];
  private readonly afterBatch = new Set<() => void>();
  private readonly unhandled = new Map<string, number>();
  private readonly owner: Owner;

  constructor(readonly config: BrokerConfig, handle: HostHandle) {
    super();
    this.router = new Router(1, (host, message, targets) => {
      const outbox = this.outboxes[host] as Outbox;
      writeDeliver(outbox.writer, message, targets);
      outbox.commit();
    }, config.maxRetainedMemory);
    this.owner = {
      onPacket: (conn, packet) => this.onPacket(conn, packet),
      corked: (conn) => { this.corked.push(conn); },
    };
    this.hosts[0] = handle;
    this.outboxes[0] = new Outbox(handle.endpoint, config);
    this.credited[0] = 0;
    handle.endpoint.onBatch((batch) => this.onHostBatch(0, batch));
  }

  connect(id: number, client: ClientStandIn): SocketlessConnection {
    const transport: TransportInfo = { type: 'tcp', remoteAddress: '127.0.0.1', remotePort: 40000 + id };
    const conn = new SocketlessConnection(id, transport, this.config.maxIncomingPacketSize, this.owner, client);
    this.connections.set(id, conn);
    return conn;
  }

  close(id: number, reason: string): void {
    const conn = this.connections.get(id);
    this.connections.delete(id);
    if (!conn || conn.host < 0) return;
    const outbox = this.outboxes[conn.host] as Outbox;
    writeClosed(outbox.writer, conn.id, reason);
    outbox.commit();
  }

  /** Resolves once `done()` holds after some host batch. */
  until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.afterBatch.delete(check);
        reject(new Error(`route bench: timed out waiting for ${what}`));
      }, SETUP_TIMEOUT_MS);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.afterBatch.delete(check);
        resolve();
      };
      this.afterBatch.add(check);
    });
  }

  /** Broker.onPacket. */
  private onPacket(conn: SocketlessConnection, packet: Buffer): void {
    if (conn.host >= 0) {
      const outbox = this.outboxes[conn.host] as Outbox;
      writePacket(outbox.writer, conn.id, packet);
      outbox.commit();
      return;
    }
    if ((packet[0] as number) >> 4 !== CONNECT) throw new Error('route bench: first packet is not CONNECT');
    const peeked = peekConnect(packet);
    const clientId = peeked.clientId;
    conn.protocolVersion = peeked.protocolVersion;
    conn.keepaliveMs = peeked.keepalive * 1000;
    conn.host = hostFor(DEFAULT_POOL, clientId, this.hosts.length);
    const outbox = this.outboxes[conn.host] as Outbox;
    writeOpen(outbox.writer, { kind: 'open', connId: conn.id, clientId, clientIdAssigned: false, transport: conn.transport, packet });
    outbox.commit();
  }

  /** Broker.onHostBatch. */
  private onHostBatch(host: number, batch: Buffer): void {
    const reader = new BatchReader(batch);
    while (!reader.done) this.handleFromHost(host, readToRouter(reader));
    const corked = this.corked;
    for (let i = 0; i < corked.length; i++) (corked[i] as SocketlessConnection).uncork();
    corked.length = 0;
    if (this.afterBatch.size > 0) for (const check of [...this.afterBatch]) check();
  }

  /** Broker.handleFromHost. */
  private handleFromHost(host: number, msg: ToRouter): void {
    switch (msg.kind) {
      case 'send': this.connections.get(msg.connId)?.write(msg.bytes); return;
      case 'publish': this.router.route(msg.pool, msg.message, host, msg.sid); return;
      case 'end': this.connections.get(msg.connId)?.end(); return;
      case 'accepted': {
        const conn = this.connections.get(msg.connId);
        if (!conn) return;
        conn.accepted = true;
        conn.keepaliveMs = msg.keepalive * 1000;
        return;
      }
      case 'subscribe': this.router.subscribe(host, msg); return;
      case 'unsubscribe': this.router.unsubscribe(host, msg.pool, msg.sid, msg.filter); return;
      case 'sessionEnded': this.router.drop(host, msg.sid); return;
      case 'event': this.emit(msg.name, msg.clientId, msg.detail); return;
      default: {
        // Kinds newer than this mirror. Inbound flow-control credits are counted as the broker counts them;
        // any other kind is tallied, and a run during which one arrives fails its check (see verify).
        const other = msg as { kind: string; batches?: number };
        if (other.kind === 'credit') {
          this.credited[host] = (this.credited[host] as number) + (other.batches ?? 0);
          return;
        }
        this.unhandled.set(other.kind, (this.unhandled.get(other.kind) ?? 0) + 1);
      }
    }
  }

  /** Frames of kinds this mirror does not handle, by kind. */
  unhandledFrames(): number {
    let n = 0;
    for (const count of this.unhandled.values()) n += count;
    return n;
  }

  unhandledKinds(): string[] {
    return [...this.unhandled.keys()];
  }
}

// ── the rig: one host, a subscriber and a publisher ─────────────────────────

type Placement = 'inline' | 'worker';

interface Rig {
  broker: SocketlessBroker;
  publisher: SocketlessConnection;
  publisherClient: ClientStandIn;
  subscriberClient: ClientStandIn;
  published: number;
  /** Frames of unknown kinds seen during setup (cold control traffic); the timed runs must add none. */
  unhandledAtStart: number;
  stats(): Promise<HostStats>;
  stop(): Promise<void>;
}

function connectPacket(clientId: string): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60 });
}

function publishPacket(i: number, qos: QoS): Buffer {
  const payload = Buffer.alloc(16);
  payload.writeUInt32BE(i, 0);
  payload.writeDoubleBE(i * 0.25, 8);
  const packet: mqttPacket.IPublishPacket = { cmd: 'publish', topic: TOPIC, payload, qos, retain: false, dup: false };
  if (qos > 0) packet.messageId = (i % 65535) + 1;
  return mqttPacket.generate(packet);
}

function configFor(placement: Placement): BrokerConfig {
  return resolveConfig({
    workers: placement === 'worker' ? 1 : 0,
    logLevel: 'silent',
    maxIncomingMessagesRate: 1e9,
    maxInflightMessages: 1024,
  });
}

async function startRig(placement: Placement, qos: QoS): Promise<Rig> {
  const config = configFor(placement);
  let handle: HostHandle;
  let closeLauncher: () => Promise<void>;
  if (placement === 'inline') {
    const [routerSide, hostSide] = inlineEndpoints();
    const host = new ActorHost(0, config, hostSide, createLogger('silent', 'bench-host'));
    handle = { index: 0, endpoint: routerSide, control: host.control, exited: host.stopped };
    closeLauncher = async () => undefined;
  } else {
    const launcher = new WorkerHosts(config);
    handle = launcher.start(0);
    closeLauncher = () => launcher.close();
  }
  const broker = new SocketlessBroker(config, handle);
  try {
    const subscriberClient = new ClientStandIn();
    const publisherClient = new ClientStandIn();
    const subscriber = broker.connect(1, subscriberClient);
    const publisher = broker.connect(2, publisherClient);

    subscriber.data(connectPacket('bench-subscriber'));
    publisher.data(connectPacket('bench-publisher'));
    await broker.until(() => subscriber.accepted && publisher.accepted
      && subscriberClient.count(CONNACK) === 1 && publisherClient.count(CONNACK) === 1, 'CONNACKs');

    subscriber.data(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC, qos }] }));
    await broker.until(() => subscriberClient.count(SUBACK) === 1 && broker.router.stats().subscriptions === 1, 'SUBACK');

    // Probe: one message end to end, checked byte for byte.
    const probe = publishPacket(0x5eed, qos);
    subscriberClient.keepLastPublish = true;
    publisher.data(probe);
    await broker.until(() => subscriberClient.publishes === 1, 'the probe delivery');
    subscriberClient.keepLastPublish = false;
    const got = decodePublish(subscriberClient.lastPublish as Buffer, 4);
    const sent = decodePublish(probe, 4);
    if (got.topic !== TOPIC || got.qos !== qos || !got.payload.equals(sent.payload)) {
      throw new Error(`route bench: the probe arrived as ${JSON.stringify({ topic: got.topic, qos: got.qos })}`);
    }
    if (qos > 0) await broker.until(() => publisherClient.count(PUBACK) === 1, "the probe's PUBACK");

    return {
      broker, publisher, publisherClient, subscriberClient, published: 1, unhandledAtStart: broker.unhandledFrames(),
      stats: () => handle.control.stats(),
      async stop() {
        broker.close(1, 'bench done');
        broker.close(2, 'bench done');
        await handle.control.shutdown().catch(() => undefined);
        handle.endpoint.close();
        await closeLauncher();
      },
    };
  } catch (err) {
    await handle.control.shutdown().catch(() => undefined);
    handle.endpoint.close();
    await closeLauncher();
    throw err;
  }
}

/** After a run: everything published was routed and delivered exactly once, acknowledged where QoS 1, and nothing dropped. */
async function verify(rig: Rig, qos: QoS, name: string): Promise<void> {
  const { broker, publisherClient, subscriberClient, published } = rig;
  if (qos > 0) {
    await broker.until(() => publisherClient.count(PUBACK) === published, 'the last PUBACKs');
  }
  const router = broker.router.stats();
  const host = await rig.stats();
  const drops = Object.entries(host.drops).filter(([, n]) => n > 0);
  const problems: string[] = [];
  if (router.routed !== published) problems.push(`routed ${router.routed} of ${published}`);
  if (router.delivered !== published) problems.push(`router delivered ${router.delivered} of ${published}`);
  if (subscriberClient.publishes !== published) problems.push(`subscriber got ${subscriberClient.publishes} of ${published}`);
  if (drops.length > 0) problems.push(`host drops ${JSON.stringify(Object.fromEntries(drops))}`);
  if (host.queued > 0) problems.push(`${host.queued} queued`);
  if (broker.unhandledFrames() > rig.unhandledAtStart) {
    problems.push(`the host sent frames this bench does not handle like the broker (${broker.unhandledKinds().join(', ')}): update its mirror of src/broker.ts`);
  }
  if (problems.length > 0) throw new Error(`${name}: ${problems.join('; ')}`);
}

export async function register(bench: Bench): Promise<void> {
  for (const qos of [0, 1] as const) {
    const chunks = Array.from({ length: CHUNKS }, (_, c) =>
      Buffer.concat(Array.from({ length: PER_ITERATION }, (_, i) => publishPacket(c * PER_ITERATION + i, qos))));
    for (const placement of ['inline', 'worker'] as const) {
      const name = `route: PUBLISH QoS ${qos} → 1 subscriber, host ${placement === 'inline' ? 'inline' : 'in a worker'}, ${PER_ITERATION} msgs`;
      let rig: Rig | undefined;
      let unregister: (() => void) | undefined;
      let next = 0;
      const stop = async (): Promise<void> => {
        const r = rig;
        rig = undefined;
        unregister?.();
        await r?.stop();
      };
      bench.add(name, () => {
        const r = rig as Rig;
        const sub = r.subscriberClient;
        const done = new Promise<void>((resolve) => {
          sub.onTarget = resolve;
        });
        sub.target = sub.publishes + PER_ITERATION;
        r.published += PER_ITERATION;
        r.publisher.data(chunks[next++ % CHUNKS] as Buffer);
        return done;
      }, {
        async: true,
        // Started for the warm-up, kept for the run, checked and stopped after it (or by run.ts's clean-up if a phase failed).
        beforeAll: async () => {
          if (rig) return;
          rig = await startRig(placement, qos);
          unregister = onCleanup(stop);
        },
        afterAll: async (phase) => {
          if (phase !== 'run') return;
          try {
            if (rig) await verify(rig, qos, name);
          } finally {
            await stop();
          }
        },
      });
      itemsPerIteration(name, PER_ITERATION, 'msg');
    }
  }
}
