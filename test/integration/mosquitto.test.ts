/**
 * Integration: interoperability with the mosquitto command-line clients —
 * mosquitto_pub → broker → mosquitto_sub at QoS 0, 1 and 2, MQTT 3.1.1 and
 * 5.0, plus each tool against an mqtt.js peer. Skipped outside CI when the
 * tools are not installed. One broker for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { mosquittoAvailable, mosquittoPub, mosquittoSub } from '../helpers/mosquitto.js';
import { label } from '../helpers/spec.js';

const available = mosquittoAvailable();
/** Outside CI a machine without the tools skips this file; in CI (which installs them) a missing tool fails it. */
const skip = available || process.env.CI ? false : 'mosquitto_pub/mosquitto_sub not installed (apt-get install mosquitto-clients)';

const b = brokerForSuite({ workers: 2 });

for (const version of VERSIONS) {
  describe(`mosquitto clients (${label(version)})`, { skip }, () => {
    for (const qos of [0, 1, 2] as const) {
      test(`mosquitto_pub → mosquitto_sub round trip at QoS ${qos}`, async () => {
        const topic = uniqueTopic('mosq');
        const sub = mosquittoSub({ port: b.port, topic, qos, version, count: 1, waitSeconds: 10 });
        await sub.subscribed;
        const pubResult = await mosquittoPub({ port: b.port, topic, message: `hello-${qos}`, qos, version });
        assert.equal(pubResult.code, 0, `mosquitto_pub failed: ${pubResult.stderr}${pubResult.stdout}`);
        if (qos === 1) assert.match(pubResult.stdout, /received PUBACK/);
        if (qos === 2) assert.match(pubResult.stdout, /received PUBCOMP/);
        const result = await sub.done;
        assert.equal(result.code, 0, `mosquitto_sub failed: ${result.stderr}${result.stdout}`);
        assert.deepEqual(result.messages, [{ topic, qos, retain: false, payload: `hello-${qos}` }]);
      });
    }

    test('mosquitto_pub → mqtt.js subscriber at QoS 2, retained message to mosquitto_sub', async () => {
      const topic = uniqueTopic('mosq');
      const client = await connectClient(b.port, { version });
      await client.subscribeAsync(topic, { qos: 2 });
      const r = await mosquittoPub({ port: b.port, topic, message: 'kept', qos: 2, version, retain: true });
      assert.equal(r.code, 0, r.stderr);
      const m = await nextMessage(client);
      assert.equal(m.payload.toString(), 'kept');
      assert.equal(m.packet.qos, 2);
      // The router handled it (the mqtt.js client got it): a new mosquitto_sub gets it retained.
      const sub = mosquittoSub({ port: b.port, topic, qos: 1, version, count: 1, waitSeconds: 10 });
      const result = await sub.done;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.messages, [{ topic, qos: 1, retain: true, payload: 'kept' }]);
    });

    test('mqtt.js publisher → mosquitto_sub with a wildcard filter at QoS 1', async () => {
      const base = uniqueTopic('mosq');
      const sub = mosquittoSub({ port: b.port, topic: `${base}/#`, qos: 1, version, count: 2, waitSeconds: 10 });
      await sub.subscribed;
      const client = await connectClient(b.port, { version });
      await client.publishAsync(`${base}/a`, 'first', { qos: 1 });
      await client.publishAsync(`${base}/b/c`, 'second', { qos: 0 });
      const result = await sub.done;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.messages, [
        { topic: `${base}/a`, qos: 1, retain: false, payload: 'first' },
        { topic: `${base}/b/c`, qos: 0, retain: false, payload: 'second' },
      ]);
    });
  });
}
