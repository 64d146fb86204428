/**
 * Limit: maxConnectionBufferBytes with outgoing Topic Aliases. A 5.0
 * subscriber that advertises a Topic Alias Maximum stops reading; QoS 0
 * PUBLISHes that set aliases are dropped for it on the main thread while
 * later ones (QoS 0 and 1) use the aliases alone. Once it reads again, every
 * alias it gets must have been set earlier on this connection and every
 * message must resolve to the topic it was published on (the topic is in the
 * payload); QoS 0 messages published after it caught up all arrive. With as
 * many aliases as topics, and with fewer (least recently used alias
 * re-assigned); and a missed alias whose topic does not fit the client's
 * Maximum Packet Size. workers 0 and 1.
 *
 * The messages of one scenario are published in one event-loop turn: they
 * reach the socket in one corked batch, so after its first, large message
 * every QoS 0 one finds the socket over maxConnectionBufferBytes, whatever
 * the kernel's buffers take.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, type Broker, type TestBroker } from '../helpers/broker.js';
import { uniqueTopic } from '../helpers/clients.js';
import { closeAllRawClients, RawClient } from '../helpers/raw-client.js';
import { labelled, labelOf, waitUntil } from './support.js';

const BUFFER_BYTES = 1024;
/** The first PUBLISH of the batch: once written, the socket holds over BUFFER_BYTES until the subscriber reads. */
const FILLER_PAYLOAD = 16 * 1024;
const READ_MS = 20_000;
/** The subscriber's Maximum Packet Size in the test of a Topic Alias whose topic does not fit. */
const MAX_PACKET = 1024;

/** One publish while the subscriber does not read: topic index and QoS. */
type Step = readonly [topic: number, qos: 0 | 1];

interface Scenario {
  name: string;
  aliases: number;
  topics: number;
  /** Published after a large message on topic 0, while the subscriber does not read: QoS 0 ones are dropped, QoS 1 ones written. */
  steps: readonly Step[];
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'as many aliases as topics: the PUBLISHes that set aliases 2 and 3 are dropped, QoS 1 ones then use them alone',
    aliases: 4,
    topics: 3,
    steps: [
      [1, 0],
      [1, 0],
      [2, 0],
      [2, 1],
      [1, 1],
      [0, 1],
    ],
  },
  {
    name: 'more topics than aliases: the least recently used alias is re-assigned by dropped PUBLISHes, then used alone',
    aliases: 2,
    topics: 5,
    steps: [
      [1, 0],
      [2, 0],
      [2, 1],
      [1, 1],
      [3, 0],
      [3, 1],
      [4, 1],
      [0, 1],
    ],
  },
];

/** A raw 5.0 subscriber that checks the Topic Alias of every PUBLISH it reads and acknowledges QoS 1. */
class AliasReader {
  /** Aliases learned on this connection. */
  private readonly learned = new Map<number, string>();
  /** `topic|label` of every message read. */
  readonly read = new Set<string>();

  private constructor(
    readonly raw: RawClient,
    private readonly maximum: number,
  ) {}

  static async open(port: number, filter: string, maximum: number, maximumPacketSize?: number): Promise<AliasReader> {
    const raw = await RawClient.connect(port, 5);
    await raw.handshake({ properties: { topicAliasMaximum: maximum, ...(maximumPacketSize ? { maximumPacketSize } : {}) } });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
    await raw.expectPacket('suback');
    return new AliasReader(raw, maximum);
  }

  /** Reads until the message `topic|label` arrived. */
  async readUntil(topic: string, label: string): Promise<void> {
    while (!this.read.has(`${topic}|${label}`)) this.check(await this.raw.expectPacket('publish', READ_MS));
  }

  private check(p: IPublishPacket): void {
    const alias = p.properties?.topicAlias;
    if (alias !== undefined) assert.ok(alias >= 1 && alias <= this.maximum, `Topic Alias ${alias} outside 1..${this.maximum}`);
    let topic = p.topic;
    if (topic === '') {
      assert.ok(alias !== undefined, 'a PUBLISH with neither topic nor Topic Alias');
      const known = this.learned.get(alias);
      assert.ok(known !== undefined, `Topic Alias ${alias} used alone before it was set on this connection`);
      topic = known;
    } else if (alias !== undefined) {
      this.learned.set(alias, topic);
    }
    const sent = labelOf(p.payload as Buffer);
    assert.equal(`${topic}|${sent.split('|')[1]}`, sent, `message ${sent} arrived as ${topic}`);
    this.read.add(sent);
    if (p.qos > 0) this.raw.send({ cmd: 'puback', messageId: p.messageId as number });
  }
}

async function droppedQos0(broker: Broker): Promise<number> {
  return (await broker.stats()).droppedQos0;
}

let b: TestBroker | undefined;
afterEach(async () => {
  await closeAllRawClients();
  await b?.close();
  b = undefined;
});
after(closeAllRawClients);

for (const workers of [0, 1]) {
  describe(`Topic Aliases to a stalled reader (workers: ${workers})`, () => {
    for (const scenario of SCENARIOS) {
      test(`[MQTT-3.3.2-7] [MQTT-3.3.2-8] [MQTT-3.3.2-11] ${scenario.name}; every alias used alone was set earlier on the connection, every message keeps its topic`, async () => {
        b = await startBroker({ workers, maxConnectionBufferBytes: BUFFER_BYTES });
        const broker = b.broker;
        const root = uniqueTopic('alias');
        const topics = Array.from({ length: scenario.topics }, (_, i) => `${root}/${i}`);
        const publish = (i: number, label: string, qos: 0 | 1, size = 16): Promise<void> =>
          broker.publish({ topic: topics[i] as string, payload: labelled(`${topics[i]}|${label}`, size), qos });
        const reader = await AliasReader.open(b.port, `${root}/#`, scenario.aliases);
        reader.raw.socket.pause();

        await Promise.all([
          publish(0, 'filler', 0, FILLER_PAYLOAD),
          ...scenario.steps.map(([topic, qos], n) => publish(topic, `step${n}`, qos)),
        ]);
        const dropped = scenario.steps.filter(([, qos]) => qos === 0).length;
        await waitUntil(async () => (await droppedQos0(broker)) >= dropped, 'the QoS 0 steps dropped');

        reader.raw.socket.resume();
        const last = scenario.steps.length - 1;
        await reader.readUntil(topics[scenario.steps[last]![0]] as string, `step${last}`);
        for (const [n, [topic, qos]] of scenario.steps.entries()) {
          if (qos === 1) assert.ok(reader.read.has(`${topics[topic]}|step${n}`), `QoS 1 step ${n} arrived`);
        }
        for (let i = 0; i < topics.length; i++) {
          await publish(i, 'after0', 0);
          await publish(i, 'after1', 1);
          await reader.readUntil(topics[i] as string, 'after1');
          assert.ok(reader.read.has(`${topics[i]}|after0`), `the QoS 0 message on topic ${i} after the reader caught up arrived`);
        }
        assert.equal(await droppedQos0(broker), dropped, 'nothing dropped once the subscriber reads');
        assert.deepEqual(reader.raw.parseErrors, []);
        assert.equal(reader.raw.closed, false);
      });
    }

    test("[MQTT-3.1.2-24] a PUBLISH that the topic of a missed Topic Alias would make larger than the client's Maximum Packet Size is not sent: QoS 0 is dropped (on_message_drop max_packet_size_exceeded), QoS 1 ends the connection with DISCONNECT 0x83", async () => {
      const reasons: string[] = [];
      const recorder = {
        on_message_drop: (_sid: unknown, _m: unknown, reason: string) => {
          reasons.push(reason);
        },
      };
      b = await startBroker({ workers, maxConnectionBufferBytes: BUFFER_BYTES }, { plugins: [recorder] });
      const broker = b.broker;
      const root = uniqueTopic('alias');
      const short = `${root}/short`;
      const long = `${root}/${'l'.repeat(300)}`;
      const reader = await AliasReader.open(b.port, `${root}/#`, 4, MAX_PACKET);
      reader.raw.socket.pause();
      await Promise.all([
        ...[0, 1, 2].map((n) => broker.publish({ topic: short, payload: labelled(`${short}|filler${n}`, 800), qos: 1 })),
        broker.publish({ topic: long, payload: labelled(`${long}|sets`, 16), qos: 0 }),
      ]);
      await waitUntil(async () => (await droppedQos0(broker)) >= 1, 'the PUBLISH that sets the alias dropped');
      reader.raw.socket.resume();
      await reader.readUntil(short, 'filler2');
      await Promise.all(
        ['qos0', 'qos1'].map((label, qos) =>
          broker.publish({ topic: long, payload: labelled(`${long}|${label}`, 500), qos: qos as 0 | 1 }),
        ),
      );
      const disconnect = await reader.raw.expectPacket('disconnect', READ_MS);
      assert.equal(disconnect.reasonCode, 0x83);
      assert.equal(await droppedQos0(broker), 2);
      await waitUntil(async () => reasons.length >= 2, 'both drops reported to on_message_drop');
      assert.deepEqual(reasons, ['queue_full', 'max_packet_size_exceeded']);
      await reader.raw.expectClose();
    });
  });
}
