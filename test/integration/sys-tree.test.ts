/**
 * The broker's `$SYS` tree over real sockets, MQTT 3.1.1 and 5.0: with
 * `sysInterval` set, a subscriber of `$SYS/broker/#` gets the figures at once
 * (retained) under Mosquitto's names and Shoal's per-host ones, and sees them
 * follow the broker (itself counted as a connected client a tick later);
 * with `sysInterval: 0` the tree is empty.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { mosquittoAvailable, mosquittoSub } from '../helpers/mosquitto.js';

/** Outside CI a machine without mosquitto_sub skips its case; in CI (which installs it) a missing tool fails it. */
const noMosquitto = mosquittoAvailable() || process.env['CI'] ? false : 'mosquitto_sub not installed (apt-get install mosquitto-clients)';

const ticking = brokerForSuite({ workers: 1, sysInterval: 1 });
const silent = brokerForSuite({ workers: 0, sysInterval: 0 });

for (const version of VERSIONS) {
  describe(`$SYS/broker (${label(version)})`, () => {
    test("the figures are retained under Mosquitto's names and follow the broker every sysInterval", async () => {
      const sub = await connectClient(ticking.port, { version });
      await sub.subscribeAsync('$SYS/broker/#', { qos: 0 });
      const version_ = await nextMessage(sub, (m) => m.topic === '$SYS/broker/version');
      assert.match(version_.payload.toString(), /^shoal \d+\.\d+\.\d+/);
      assert.equal(version_.packet.retain, true, 'retained, so a new subscriber gets it at once');
      const uptime = await nextMessage(sub, (m) => m.topic === '$SYS/broker/uptime');
      assert.match(uptime.payload.toString(), /^\d+ seconds$/);
      for (const topic of ['subscriptions/count', 'retained messages/count', 'clients/total', 'heap/current', 'shoal/hosts/0/sessions']) {
        const m = await nextMessage(sub, (r) => r.topic === `$SYS/broker/${topic}`);
        assert.match(m.payload.toString(), /^\d+$/, topic);
      }
      // A later publication reaches the subscriber live (RETAIN 0, [MQTT-3.3.1-9]) and counts it as a connected client.
      const connected = await nextMessage(sub, (m) => m.topic === '$SYS/broker/clients/connected' && !m.packet.retain, 5_000);
      assert.ok(Number(connected.payload.toString()) >= 1, `connected clients: ${connected.payload.toString()}`);
    });

    test('mosquitto_sub reads the byte, message and load figures and the per-thread event-loop delay', { skip: noMosquitto }, async () => {
      // Traffic of known size first, then a publication that counts it.
      const client = await connectClient(ticking.port, { version });
      await client.publishAsync('sys/traffic', Buffer.alloc(1000), { qos: 1 });
      await client.subscribeAsync('$SYS/broker/bytes/received', { qos: 0 });
      await nextMessage(
        client,
        (m) => m.topic === '$SYS/broker/bytes/received' && !m.packet.retain && Number(m.payload.toString()) > 1000,
        5_000,
      );
      const figures = [
        'bytes/received',
        'bytes/sent',
        'messages/received',
        'messages/sent',
        'load/bytes/received/1min',
        'load/messages/received/15min',
        'load/connections/5min',
        'shoal/main/event_loop/delay_p99_ms',
        'shoal/hosts/0/event_loop/delay_p99_ms',
      ];
      const subs = figures.map((figure) =>
        mosquittoSub({ port: ticking.port, topic: `$SYS/broker/${figure}`, version, count: 1, waitSeconds: 10 }),
      );
      const results = await Promise.all(subs.map((sub) => sub.done));
      results.forEach((result, i) => {
        assert.equal(result.messages.length, 1, `${figures[i]}: ${result.stderr}`);
        const [message] = result.messages;
        assert.equal(message?.retain, true, `${figures[i]} is retained`);
        assert.match(message?.payload ?? '', /^\d+(\.\d+)?$/, figures[i]);
      });
      assert.ok(Number(results[0]?.messages[0]?.payload) > 1000, 'bytes/received counts the 1000-byte payload');
      assert.ok(Number(results[2]?.messages[0]?.payload) >= 3, 'messages/received counts CONNECT, PUBLISH, SUBSCRIBE');
    });

    test('sysInterval 0: nothing is published in $SYS/broker', async () => {
      const sub = await connectClient(silent.port, { version });
      await sub.subscribeAsync('$SYS/broker/#', { qos: 0 });
      await expectNoMessage(sub, 300);
    });
  });
}
