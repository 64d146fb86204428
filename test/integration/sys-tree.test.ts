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

    test('sysInterval 0: nothing is published in $SYS/broker', async () => {
      const sub = await connectClient(silent.port, { version });
      await sub.subscribeAsync('$SYS/broker/#', { qos: 0 });
      await expectNoMessage(sub, 300);
    });
  });
}
