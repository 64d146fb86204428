/**
 * Micro-benchmark of the route of one PUBLISH through the main thread and an
 * actor host, without sockets. Per iteration a publisher's "socket read" of
 * 256 PUBLISH packets (16 B payload, topic `sensor/123/temp`, 3.1.1) goes
 * through the broker's own data path: on the main thread, the Connection's
 * Framer and one `packet` frame per packet into the host's Outbox (the data
 * plane, src/main/data-plane.ts); in the host, the session actor (topic
 * checks, token bucket, hand decoder, PUBACK for QoS 1) and one `publish`
 * frame per message; back on the main thread, the data plane's dispatch,
 * Router.route (trie match) and one `deliver` frame per message; in the host,
 * the subscriber's session (QoS 1: owned copy, packet id, inflight window) and
 * the encoded outbound PUBLISH as a `send` frame; back on the main thread, the
 * write to the subscriber's Connection, corked for the batch. The iteration
 * ends when the 256th PUBLISH for the subscriber has come back to the main
 * thread; msgs/s and µs/msg count those 256.
 *
 * The broker is a real `Broker` (never listening); both clients are served
 * through `broker.handle` over a socket stand-in: a Duplex whose reads are
 * emitted as 'data' at once and whose writes, cork and uncork go straight to
 * a client stand-in, with no kernel and no stream buffering. Everything else
 * is the broker's own code. Sessions are opened with real CONNECT bytes, the
 * subscription with a real SUBACK round trip, and a probe message is checked
 * byte for byte before timing.
 *
 * Settings that differ from the defaults: logLevel 'silent'; the incoming
 * rate limit at 1e9 msgs/s (the bucket is still consulted per PUBLISH; the
 * default 1000/s would refuse the bench's traffic); maxInflightMessages 1024
 * so the QoS 1 variant's subscriber, which acknowledges each batch of
 * deliveries one event-loop turn later (as a fast client would), is not
 * throttled to 20 in flight. After each run the task checks that every
 * message was routed and delivered once and that nothing was dropped.
 *
 * Variants: QoS 0 → QoS 0 and QoS 1 → QoS 1 (publisher and subscription),
 * each with the actor host on the main thread (`workers: 0`) and in one
 * piscina worker (`workers: 1`, the default path). One batch in flight per
 * iteration, so cross-thread latency is part of the worker figures. Runs on
 * the bench's main thread (plus one worker).
 */
import { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import type { Bench } from 'tinybench';
import { createBroker, type Broker } from '../../src/index.js';
import type { QoS } from '../../src/shared/message/app-message.js';
import { decodePublish } from '../../src/shared/codec/publish.js';
import { itemsPerIteration, onCleanup } from './task-info.js';

const PER_ITERATION = 256;
/** Distinct publisher reads (of PER_ITERATION packets each), cycled. */
const CHUNKS = 64;
const TOPIC = 'sensor/123/temp';
const CONNACK = 2,
  PUBLISH = 3,
  PUBACK = 4,
  SUBACK = 9;
const SETUP_TIMEOUT_MS = 10_000;

// ── the client side of the (absent) sockets ─────────────────────────────────

/** Conditions waited for; checked whenever a connection is uncorked, i.e. after each host batch that wrote to it. */
class Waits {
  private readonly pending = new Set<() => void>();

  /** Resolves once `done()` holds after some host batch. */
  until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(check);
        reject(new Error(`route bench: timed out waiting for ${what}`));
      }, SETUP_TIMEOUT_MS);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.pending.delete(check);
        resolve();
      };
      this.pending.add(check);
    });
  }

  check(): void {
    if (this.pending.size > 0) for (const check of [...this.pending]) check();
  }
}

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
  /** The socket this client sends on. */
  readonly socket: SocketStandIn;

  constructor(private readonly waits: Waits) {
    this.socket = new SocketStandIn(this);
  }

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
    this.waits.check();
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
      this.socket.data(chunk);
    });
  }
}

/**
 * A client's socket as the broker's Connection sees it: reads are 'data'
 * events emitted at once; each write goes straight to the client stand-in,
 * and uncork tells it the batch is "on the wire". Ending or destroying it
 * closes it as a socket would.
 */
class SocketStandIn extends Duplex {
  constructor(private readonly client: ClientStandIn) {
    super();
  }

  /** Bytes from the client: a socket 'data' event. */
  data(chunk: Buffer): void {
    this.emit('data', chunk);
  }

  override _read(): void {}

  override write(chunk: Uint8Array): boolean {
    this.client.receive(chunk);
    return true;
  }

  override cork(): void {}

  override uncork(): void {
    this.client.flushed();
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

// ── the rig: one host, a subscriber and a publisher ─────────────────────────

type Placement = 'inline' | 'worker';

interface Rig {
  broker: Broker;
  waits: Waits;
  publisher: SocketStandIn;
  publisherClient: ClientStandIn;
  subscriberClient: ClientStandIn;
  published: number;
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

async function startRig(placement: Placement, qos: QoS): Promise<Rig> {
  const broker = createBroker({
    workers: placement === 'worker' ? 1 : 0,
    logLevel: 'silent',
    maxIncomingMessagesRate: 1e9,
    maxInflightMessages: 1024,
  });
  try {
    await broker.stats(); // the host is up
    const waits = new Waits();
    const subscriberClient = new ClientStandIn(waits);
    const publisherClient = new ClientStandIn(waits);
    const subscriber = subscriberClient.socket;
    const publisher = publisherClient.socket;
    broker.handle(subscriber, { type: 'tcp', remoteAddress: '127.0.0.1', remotePort: 40001 });
    broker.handle(publisher, { type: 'tcp', remoteAddress: '127.0.0.1', remotePort: 40002 });

    subscriber.data(connectPacket('bench-subscriber'));
    publisher.data(connectPacket('bench-publisher'));
    await waits.until(() => subscriberClient.count(CONNACK) === 1 && publisherClient.count(CONNACK) === 1, 'CONNACKs');

    subscriber.data(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC, qos }] }));
    await waits.until(() => subscriberClient.count(SUBACK) === 1, 'SUBACK');
    const { subscriptions } = (await broker.stats()).router;
    if (subscriptions !== 1) throw new Error(`route bench: ${subscriptions} subscriptions after the SUBACK`);

    // Probe: one message end to end, checked byte for byte.
    const probe = publishPacket(0x5eed, qos);
    subscriberClient.keepLastPublish = true;
    publisher.data(probe);
    await waits.until(() => subscriberClient.publishes === 1, 'the probe delivery');
    subscriberClient.keepLastPublish = false;
    const got = decodePublish(subscriberClient.lastPublish as Buffer, 4);
    const sent = decodePublish(probe, 4);
    if (got.topic !== TOPIC || got.qos !== qos || !got.payload.equals(sent.payload)) {
      throw new Error(`route bench: the probe arrived as ${JSON.stringify({ topic: got.topic, qos: got.qos })}`);
    }
    if (qos > 0) await waits.until(() => publisherClient.count(PUBACK) === 1, "the probe's PUBACK");

    return { broker, waits, publisher, publisherClient, subscriberClient, published: 1 };
  } catch (err) {
    await broker.close();
    throw err;
  }
}

/** After a run: everything published was routed and delivered exactly once, acknowledged where QoS 1, and nothing dropped. */
async function verify(rig: Rig, qos: QoS, name: string): Promise<void> {
  const { broker, waits, publisherClient, subscriberClient, published } = rig;
  if (qos > 0) {
    await waits.until(() => publisherClient.count(PUBACK) === published, 'the last PUBACKs');
  }
  const { router, hosts, droppedQos0 } = await broker.stats();
  const host = hosts[0];
  const problems: string[] = [];
  if (router.routed !== published) problems.push(`routed ${router.routed} of ${published}`);
  if (router.delivered !== published) problems.push(`router delivered ${router.delivered} of ${published}`);
  if (subscriberClient.publishes !== published) problems.push(`subscriber got ${subscriberClient.publishes} of ${published}`);
  if (droppedQos0 > 0) problems.push(`${droppedQos0} QoS 0 drops on the main thread`);
  if (host) {
    const drops = Object.entries(host.drops).filter(([, n]) => n > 0);
    if (drops.length > 0) problems.push(`host drops ${JSON.stringify(Object.fromEntries(drops))}`);
    if (host.queued > 0) problems.push(`${host.queued} queued`);
  }
  if (problems.length > 0) throw new Error(`${name}: ${problems.join('; ')}`);
}

export async function register(bench: Bench): Promise<void> {
  for (const qos of [0, 1] as const) {
    const chunks = Array.from({ length: CHUNKS }, (_, c) =>
      Buffer.concat(Array.from({ length: PER_ITERATION }, (_, i) => publishPacket(c * PER_ITERATION + i, qos))),
    );
    for (const placement of ['inline', 'worker'] as const) {
      const name = `route: PUBLISH QoS ${qos} → 1 subscriber, host ${placement === 'inline' ? 'inline' : 'in a worker'}, ${PER_ITERATION} msgs`;
      let rig: Rig | undefined;
      let unregister: (() => void) | undefined;
      let next = 0;
      const stop = async (): Promise<void> => {
        const r = rig;
        rig = undefined;
        unregister?.();
        await r?.broker.close();
      };
      bench.add(
        name,
        () => {
          const r = rig as Rig;
          const sub = r.subscriberClient;
          const done = new Promise<void>((resolve) => {
            sub.onTarget = resolve;
          });
          sub.target = sub.publishes + PER_ITERATION;
          r.published += PER_ITERATION;
          r.publisher.data(chunks[next++ % CHUNKS] as Buffer);
          return done;
        },
        {
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
        },
      );
      itemsPerIteration(name, PER_ITERATION, 'msg');
    }
  }
}
