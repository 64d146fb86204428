/**
 * Integration: the RouterBridge seam over real sockets, under MQTT 3.1.1 and
 * 5.0. A bridge that writes down what it is told sees the messages published
 * on its broker (by clients and Broker.publish), never the ones it brought
 * in with Broker.routeFromBridge, which reach local subscribers as the
 * router delivers any message (QoS downgrade, retained storage, RETAIN on
 * live delivery); it hears of a filter's first and last local subscription
 * once each, shared ones by group. Then two brokers linked by a small bridge
 * (each forwarding what it is told to the other's routeFromBridge, with its
 * node id as origin) deliver across brokers exactly once, with no loop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import type { RouterBridge } from '../../src/api/bridge.js';
import { brokerForSuite, type Broker } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueTopic, VERSIONS, WAIT_MS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { waitUntil } from '../helpers/wait.js';

interface Routed {
  pool: string;
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  origin: string | undefined;
}

class RecordingBridge implements RouterBridge {
  readonly routed: Routed[] = [];
  readonly interest: string[] = [];

  onRouted(pool: string, message: AppMessage): void {
    const { topic, payload, qos, retain, origin } = message;
    this.routed.push({ pool, topic, payload: payload.toString(), qos, retain, origin });
  }

  onFilterAdded(pool: string, filter: string, group: string | undefined): void {
    this.interest.push(`+ ${pool}:${filter}${group === undefined ? '' : ` ${group}`}`);
  }

  onFilterRemoved(pool: string, filter: string, group: string | undefined): void {
    this.interest.push(`- ${pool}:${filter}${group === undefined ? '' : ` ${group}`}`);
  }

  routedOn(topic: string): Routed[] {
    return this.routed.filter((r) => r.topic === topic);
  }

  interestIn(filter: string): string[] {
    return this.interest.filter((line) => line.includes(`:${filter}`));
  }
}

/** Resolves once `check` holds, polling; fails after the wait bound. */
function eventually(check: () => boolean, what: string): Promise<void> {
  return waitUntil(check, what, WAIT_MS);
}

function inbound(topic: string, payload: string, qos: 0 | 1 | 2, retain = false): AppMessage {
  return { topic, payload: Buffer.from(payload), qos, retain };
}

describe('router bridge', () => {
  const bridge = new RecordingBridge();
  const b = brokerForSuite({ workers: 2 }, { onStarted: (started) => started.broker.attachBridge(bridge) });

  for (const version of VERSIONS) {
    describe(label(version), () => {
      test('the bridge is told of a client PUBLISH and of Broker.publish, after the local delivery, with pool and topic', async () => {
        const topic = uniqueTopic('brl');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1 });
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'from-client', { qos: 1, retain: true });
        await nextMessage(sub, (m) => m.payload.toString() === 'from-client');
        await b.broker.publish({ topic, payload: 'from-app', qos: 2 });
        await nextMessage(sub, (m) => m.payload.toString() === 'from-app');
        assert.deepEqual(bridge.routedOn(topic), [
          { pool: '', topic, payload: 'from-client', qos: 1, retain: true, origin: undefined },
          { pool: '', topic, payload: 'from-app', qos: 2, retain: false, origin: undefined },
        ]);
      });

      test('a message brought in by the bridge reaches local subscribers at their granted QoS and is not handed back', async () => {
        const topic = uniqueTopic('bri');
        const sub0 = await connectClient(b.port, { version });
        await sub0.subscribeAsync(topic, { qos: 0 });
        const sub1 = await connectClient(b.port, { version });
        await sub1.subscribeAsync(topic, { qos: 1 });
        b.broker.routeFromBridge('', inbound(topic, 'remote', 2), 'node-b');
        const m0 = await nextMessage(sub0);
        const m1 = await nextMessage(sub1);
        assert.deepEqual([m0.payload.toString(), m0.packet.qos, m0.packet.retain], ['remote', 0, false]);
        assert.deepEqual([m1.payload.toString(), m1.packet.qos, m1.packet.retain], ['remote', 1, false]);
        await expectNoMessage(sub1, 50);
        assert.deepEqual(bridge.routedOn(topic), []);
        assert.throws(() => b.broker.routeFromBridge('', inbound('bad/#', 'x', 0), 'node-b'), TypeError);
      });

      test('a retained message brought in by the bridge is stored: RETAIN = 0 live, RETAIN = 1 to a new subscription; an empty one clears it', async () => {
        const topic = uniqueTopic('brr');
        const live = await connectClient(b.port, { version });
        await live.subscribeAsync(topic, { qos: 1 });
        b.broker.routeFromBridge('', inbound(topic, 'kept', 1, true), 'node-b');
        assert.equal((await nextMessage(live)).packet.retain, false);
        const late = await connectClient(b.port, { version });
        await late.subscribeAsync(topic, { qos: 2 });
        const m = await nextMessage(late);
        assert.deepEqual([m.payload.toString(), m.packet.retain, m.packet.qos], ['kept', true, 1]);
        b.broker.routeFromBridge('', inbound(topic, '', 0, true), 'node-b');
        await nextMessage(live, (x) => x.payload.length === 0);
        const later = await connectClient(b.port, { version });
        await later.subscribeAsync(topic, { qos: 1 });
        await expectNoMessage(later, 50);
        assert.deepEqual(bridge.routedOn(topic), []);
      });

      test('the first subscription to a filter and the last one leaving are told once each', async () => {
        const filter = `${uniqueTopic('brs')}/+`;
        const a = await connectClient(b.port, { version });
        const c = await connectClient(b.port, { version });
        await a.subscribeAsync(filter, { qos: 1 });
        await c.subscribeAsync(filter, { qos: 0 });
        await a.subscribeAsync(filter, { qos: 2 });
        assert.deepEqual(bridge.interestIn(filter), [`+ :${filter}`]);
        await a.unsubscribeAsync(filter);
        assert.deepEqual(bridge.interestIn(filter), [`+ :${filter}`]);
        await c.unsubscribeAsync(filter);
        assert.deepEqual(bridge.interestIn(filter), [`+ :${filter}`, `- :${filter}`]);
        await a.subscribeAsync(filter, { qos: 1 });
        await a.endAsync();
        await eventually(() => bridge.interestIn(filter).length === 4, 'the end of the session removes its filter');
        assert.deepEqual(bridge.interestIn(filter).slice(2), [`+ :${filter}`, `- :${filter}`]);
      });

      test("shared subscriptions are told by group: the group's first member and its last", async () => {
        const filter = uniqueTopic('brg');
        const a = await connectClient(b.port, { version });
        const c = await connectClient(b.port, { version });
        await a.subscribeAsync(`$share/g1/${filter}`, { qos: 1 });
        await c.subscribeAsync(`$share/g1/${filter}`, { qos: 1 });
        await c.subscribeAsync(`$share/g2/${filter}`, { qos: 1 });
        assert.deepEqual(bridge.interestIn(filter), [`+ :${filter} g1`, `+ :${filter} g2`]);
        await a.unsubscribeAsync(`$share/g1/${filter}`);
        await c.unsubscribeAsync(`$share/g1/${filter}`);
        await c.unsubscribeAsync(`$share/g2/${filter}`);
        assert.deepEqual(bridge.interestIn(filter), [`+ :${filter} g1`, `+ :${filter} g2`, `- :${filter} g1`, `- :${filter} g2`]);
      });
    });
  }
});

/** Links two brokers: what one routes goes, copied and on a later turn, to the other's routeFromBridge with the sender's node id. */
class Link implements RouterBridge {
  readonly told: string[] = [];
  constructor(
    private readonly node: string,
    private readonly peer: () => Broker,
  ) {}

  onRouted(pool: string, message: AppMessage): void {
    this.told.push(message.topic);
    const copy: AppMessage = { ...message, payload: Buffer.from(message.payload) };
    setImmediate(() => this.peer().routeFromBridge(pool, copy, this.node));
  }

  onFilterAdded(): void {}

  onFilterRemoved(): void {}
}

describe('two brokers linked by a bridge', () => {
  const brokers: { a?: Broker; b?: Broker } = {};
  const toB = new Link('node-a', () => brokers.b as Broker);
  const toA = new Link('node-b', () => brokers.a as Broker);
  const a = brokerForSuite(
    { workers: 1 },
    {
      onStarted: (started) => {
        brokers.a = started.broker;
        started.broker.attachBridge(toB);
      },
    },
  );
  const b = brokerForSuite(
    { workers: 2 },
    {
      onStarted: (started) => {
        brokers.b = started.broker;
        started.broker.attachBridge(toA);
      },
    },
  );

  for (const version of VERSIONS) {
    test(`a message published on either broker reaches the subscribers of both exactly once (${label(version)})`, async () => {
      const topic = uniqueTopic('link');
      const onA = await connectClient(a.port, { version });
      const onB = await connectClient(b.port, { version });
      await onA.subscribeAsync(topic, { qos: 1 });
      await onB.subscribeAsync(topic, { qos: 1 });
      const pubA = await connectClient(a.port, { version });
      await pubA.publishAsync(topic, 'from-a', { qos: 1 });
      await b.broker.publish({ topic, payload: 'from-b', qos: 1 });
      for (const sub of [onA, onB]) {
        const got = [await nextMessage(sub), await nextMessage(sub)].map((m) => m.payload.toString()).sort();
        assert.deepEqual(got, ['from-a', 'from-b']);
        await expectNoMessage(sub, 100);
      }
      assert.deepEqual(
        toB.told.filter((t) => t === topic),
        [topic],
        'broker a told its link of its own message only',
      );
      assert.deepEqual(
        toA.told.filter((t) => t === topic),
        [topic],
        'broker b told its link of its own message only',
      );
    });
  }
});
