/**
 * Integration: broker.subscribe / broker.unsubscribe, the embedding
 * application's own subscriptions. mqtt.js clients publish over real sockets
 * (MQTT 3.1.1 and 5.0, sessions in a worker host and on the main thread);
 * the application's handler gets what a subscriber would: topic, payload,
 * QoS capped by its subscription, 5.0 properties, retained messages only
 * when asked, no `$SYS` on a leading wildcard, one call per message across
 * overlapping filters; a handler that throws harms nobody.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite, type TestBroker } from '../helpers/broker.js';
import { connectClient, uniqueTopic, VERSIONS, withBound, WAIT_MS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import type { ReceivedMessage } from '../../src/index.js';

/** A handler that records what it gets, and waits for the next message that `predicate` accepts. */
class Recorder {
  readonly received: ReceivedMessage[] = [];
  private waiting: { predicate: (m: ReceivedMessage) => boolean; resolve: (m: ReceivedMessage) => void } | undefined;
  readonly handler = (m: ReceivedMessage): void => {
    this.received.push(m);
    if (this.waiting?.predicate(m) === true) {
      this.waiting.resolve(m);
      this.waiting = undefined;
    }
  };

  next(predicate: (m: ReceivedMessage) => boolean = () => true): Promise<ReceivedMessage> {
    const seen = this.received.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return withBound(new Promise((resolve) => (this.waiting = { predicate, resolve })), WAIT_MS, 'a message for the application handler');
  }
}

function suite(b: TestBroker, hosts: string): void {
  for (const version of VERSIONS) {
    describe(`broker.subscribe (${label(version)}, ${hosts})`, () => {
      for (const qos of [0, 1, 2] as const) {
        test(`a client's QoS ${qos} PUBLISH reaches the handler at min(QoS, subscription QoS 1)`, async () => {
          const topic = uniqueTopic('app-sub');
          const recorder = new Recorder();
          const unsubscribe = b.broker.subscribe(`${topic}/+`, recorder.handler, { qos: 1 });
          const pub = await connectClient(b.port, { version });
          await pub.publishAsync(`${topic}/x`, `hello-${qos}`, { qos });
          const m = await recorder.next();
          assert.equal(m.topic, `${topic}/x`);
          assert.equal(m.payload.toString(), `hello-${qos}`);
          assert.equal(m.qos, Math.min(qos, 1));
          assert.equal(m.retain, false);
          assert.equal(m.pool, '');
          unsubscribe();
        });
      }

      test('the handler is called once per message across overlapping filters [MQTT-3.3.4-2]', async () => {
        const topic = uniqueTopic('app-sub');
        const recorder = new Recorder();
        b.broker.subscribe(`${topic}/#`, recorder.handler, { qos: 0 });
        b.broker.subscribe(`${topic}/+`, recorder.handler, { qos: 2 });
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(`${topic}/a`, 'one', { qos: 2 });
        await pub.publishAsync(`${topic}/a/b`, 'two', { qos: 0 });
        await recorder.next((m) => m.payload.toString() === 'two');
        assert.deepEqual(
          recorder.received.map((m) => [m.payload.toString(), m.qos]),
          [
            ['one', 2],
            ['two', 0],
          ],
        );
        assert.equal(b.broker.unsubscribe(`${topic}/#`, recorder.handler), true);
        assert.equal(b.broker.unsubscribe(`${topic}/+`, recorder.handler), true);
        assert.equal(b.broker.unsubscribe(`${topic}/+`, recorder.handler), false);
      });

      test('after unsubscribe the handler gets nothing more', async () => {
        const topic = uniqueTopic('app-sub');
        const gone = new Recorder();
        const marker = new Recorder();
        const unsubscribe = b.broker.subscribe(topic, gone.handler);
        b.broker.subscribe(`${topic}/marker`, marker.handler);
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'before', { qos: 1 });
        await gone.next();
        unsubscribe();
        await pub.publishAsync(topic, 'after', { qos: 1 });
        // One publisher's messages are routed in order: once the marker arrived, 'after' was routed too.
        await pub.publishAsync(`${topic}/marker`, 'marker', { qos: 1 });
        await marker.next();
        assert.deepEqual(
          gone.received.map((m) => m.payload.toString()),
          ['before'],
        );
        b.broker.unsubscribe(`${topic}/marker`, marker.handler);
      });

      test('retained messages are handed over at subscribe only when asked [MQTT-3.3.1-6]', async () => {
        const topic = uniqueTopic('app-sub');
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
        const asked = new Recorder();
        const plain = new Recorder();
        b.broker.subscribe(topic, plain.handler);
        b.broker.subscribe(topic, asked.handler, { retained: true });
        const m = await asked.next();
        assert.equal(m.payload.toString(), 'kept');
        assert.equal(m.retain, true);
        await pub.publishAsync(topic, 'live', { qos: 1 });
        await plain.next((x) => x.payload.toString() === 'live');
        assert.deepEqual(
          plain.received.map((x) => x.payload.toString()),
          ['live'],
        );
        await pub.publishAsync(topic, '', { qos: 1, retain: true });
        b.broker.unsubscribe(topic, plain.handler);
        b.broker.unsubscribe(topic, asked.handler);
      });

      if (version === 5) {
        test('5.0 message properties reach the handler', async () => {
          const topic = uniqueTopic('app-sub');
          const recorder = new Recorder();
          const unsubscribe = b.broker.subscribe(topic, recorder.handler);
          const pub = await connectClient(b.port, { version });
          await pub.publishAsync(topic, '{}', {
            qos: 1,
            properties: { contentType: 'application/json', userProperties: { tenant: 'a' }, responseTopic: `${topic}/reply` },
          });
          const m = await recorder.next();
          assert.equal(m.properties?.contentType, 'application/json');
          assert.deepEqual(m.properties?.userProperties, { tenant: 'a' });
          assert.equal(m.properties?.responseTopic, `${topic}/reply`);
          unsubscribe();
        });
      }

      test('a handler that throws is logged; routing, the publisher and other subscribers go on', async () => {
        const topic = uniqueTopic('app-sub');
        const calls: string[] = [];
        const thrower = (m: ReceivedMessage): void => {
          calls.push(m.payload.toString());
          throw new Error('application bug');
        };
        const recorder = new Recorder();
        b.broker.subscribe(topic, thrower);
        b.broker.subscribe(topic, recorder.handler);
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(topic, { qos: 1 });
        const got = new Promise<string>((resolve) => sub.on('message', (_t, payload) => resolve(payload.toString())));
        const pub = await connectClient(b.port, { version });
        await pub.publishAsync(topic, 'first', { qos: 1 });
        await pub.publishAsync(topic, 'second', { qos: 1 });
        await recorder.next((m) => m.payload.toString() === 'second');
        assert.equal(await withBound(got, WAIT_MS, 'the client subscriber'), 'first');
        assert.deepEqual(calls, ['first', 'second']);
        assert.equal(pub.connected, true);
        b.broker.unsubscribe(topic, thrower);
        b.broker.unsubscribe(topic, recorder.handler);
      });
    });
  }

  describe(`broker.subscribe (${hosts})`, () => {
    test('a leading wildcard does not match $SYS topics [MQTT-4.7.2-1], broker.publish reaches the handler', async () => {
      const recorder = new Recorder();
      const unsubscribe = b.broker.subscribe('#', recorder.handler);
      const topic = uniqueTopic('app-sub');
      await b.broker.publish({ topic: '$SYS/app-sub/probe', payload: 'sys' });
      await b.broker.publish({ topic, payload: 'app' });
      await recorder.next((m) => m.topic === topic);
      assert.equal(
        recorder.received.some((m) => m.topic.startsWith('$')),
        false,
      );
      unsubscribe();
    });

    test('bad filters and options are refused with a clear error', () => {
      const handler = (): void => undefined;
      assert.throws(() => b.broker.subscribe('a/#/b', handler), { name: 'TypeError', message: /invalid topic filter/ });
      assert.throws(() => b.broker.subscribe('$share/g/a', handler), { name: 'TypeError', message: /shared subscriptions/ });
      assert.throws(() => b.broker.subscribe('a', handler, { qos: 3 as 0 }), { name: 'RangeError', message: /qos/ });
    });
  });
}

describe('application subscriptions, sessions in a worker host', () => suite(brokerForSuite({ workers: 1 }), 'workers 1'));
describe('application subscriptions, sessions on the main thread', () => suite(brokerForSuite({ workers: 0 }), 'workers 0'));
