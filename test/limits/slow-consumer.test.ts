/**
 * Limit: maxConnectionBufferBytes (slow consumer). A subscriber that stops
 * reading (a raw socket paused for good) while 200k QoS 0 messages of 100 B
 * are published: another subscriber still gets the last message, the broker
 * counts QoS 0 drops for the slow one (broker.stats().droppedQos0), and the
 * test process (broker in-process) stays within +200 MiB RSS. The other
 * subscriber is a bare mqtt.js client that keeps none of what it receives,
 * so the bound is the broker's. workers 0 and 1.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import mqtt from 'mqtt';
import { closeAllClients, uniqueTopic, withBound } from '../helpers/clients.js';
import { closeAllRawClients, RawClient } from '../helpers/raw-client.js';

const COUNT = 200_000;
const RSS_BOUND = 200 * 1024 * 1024;

let b: TestBroker | undefined;
afterEach(async () => {
  await closeAllClients();
  await closeAllRawClients();
  await b?.close();
  b = undefined;
});
after(async () => {
  await closeAllClients();
  await closeAllRawClients();
});

for (const workers of [0, 1]) {
  describe(`workers: ${workers}`, () => {
    test('maxConnectionBufferBytes: a subscriber that stops reading gets QoS 0 drops; others keep getting messages; memory stays bounded', async () => {
      b = await startBroker({ workers, maxConnectionBufferBytes: 256 * 1024 });
      const broker = b.broker;
      const topic = uniqueTopic('slow');
      const slow = await RawClient.connect(b.port, 4);
      await slow.handshake();
      slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
      await slow.expectPacket('suback');
      slow.socket.pause(); // never resumed
      const normal = await mqtt.connectAsync(b.url, { protocolVersion: 4, reconnectPeriod: 0 });
      await normal.subscribeAsync(topic, { qos: 1 });
      const last = withBound(
        new Promise<string>((resolve) => normal.on('message', (t, payload) => payload.toString() === 'last' && resolve(t))),
        60_000,
        'the last message',
      );

      const rssBefore = process.memoryUsage().rss;
      let rssMax = rssBefore;
      const payload = Buffer.alloc(100, 0x70);
      for (let i = 0; i < COUNT; i++) {
        await broker.publish({ topic, payload, qos: 0 });
        if (i % 2000 === 1999) {
          await new Promise((r) => setImmediate(r)); // let sockets drain
          rssMax = Math.max(rssMax, process.memoryUsage().rss);
        }
      }
      await broker.publish({ topic, payload: 'last', qos: 1 });
      assert.equal(await last, topic);
      await normal.endAsync();
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      const stats = await broker.stats();
      assert.ok(stats.droppedQos0 > 0, `droppedQos0 = ${stats.droppedQos0}`);
      assert.ok(rssMax - rssBefore < RSS_BOUND, `RSS grew by ${Math.round((rssMax - rssBefore) / 1048576)} MiB`);
      assert.equal(slow.closed, false, 'the slow subscriber is not disconnected');
    });
  });
}
