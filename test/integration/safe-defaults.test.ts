/**
 * Integration: the defaults of a broker on a network. Usernames stay
 * usernames: without `vhostSeparator` a username with colons is one user of
 * the default pool (plugins see it whole), with `vhostSeparator: ':'` its
 * vhost picks the pool. mosquitto_pub / mosquitto_sub and mqtt.js clients
 * over real sockets, MQTT 3.1.1 and 5.0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { mosquittoAvailable, mosquittoPub, mosquittoSub } from '../helpers/mosquitto.js';
import { label } from '../helpers/spec.js';
import { Recorder } from '../hooks/support.js';

/** Outside CI a machine without the tools skips the mosquitto tests; in CI (which installs them) a missing tool fails them. */
const skipMosquitto =
  mosquittoAvailable() || process.env.CI ? false : 'mosquitto_pub/mosquitto_sub not installed (apt-get install mosquitto-clients)';

/** The username and mountpoint auth_on_register(_m5) got for `clientId`. */
function registeredAs(recorder: Recorder, clientId: string): { username: unknown; mountpoint: unknown } {
  const call = recorder.calls.find(
    (c) => c.hook.startsWith('auth_on_register') && (c.args[1] as { clientId: string }).clientId === clientId,
  );
  assert.ok(call, `auth_on_register was called for ${clientId}`);
  return { username: call.args[2], mountpoint: (call.args[1] as { mountpoint: string }).mountpoint };
}

describe('usernames without vhostSeparator are used whole', () => {
  const recorder = new Recorder();
  const b = brokerForSuite({ workers: 2 }, { plugins: [recorder.plugin] });

  for (const version of VERSIONS) {
    test(`${label(version)}: mosquitto_sub with username urn:dev:1 is that user of the default pool`, { skip: skipMosquitto }, async () => {
      const topic = uniqueTopic('whole');
      const clientId = uniqueId('urn');
      const sub = mosquittoSub({ port: b.port, topic, qos: 1, version, clientId, username: 'urn:dev:1' });
      await sub.subscribed;
      assert.deepEqual(registeredAs(recorder, clientId), { username: 'urn:dev:1', mountpoint: '' });
      const plain = await connectClient(b.port, { version });
      await plain.publishAsync(topic, 'to-urn', { qos: 1 });
      const result = await sub.done;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.messages, [{ topic, qos: 1, retain: false, payload: 'to-urn' }]);
    });

    test(`${label(version)}: mqtt.js and mosquitto_pub with colon usernames publish to the default pool's subscribers`, async () => {
      const topic = uniqueTopic('whole');
      const plain = await connectClient(b.port, { version });
      await plain.subscribeAsync(topic, { qos: 1 });
      const named = await connectClient(b.port, { version, username: 'tenant:alice' });
      assert.deepEqual(registeredAs(recorder, named.clientId), { username: 'tenant:alice', mountpoint: '' });
      await named.publishAsync(topic, 'from-mqttjs', { qos: 1 });
      assert.equal((await nextMessage(plain)).payload.toString(), 'from-mqttjs');
      if (skipMosquitto) return;
      const pub = await mosquittoPub({ port: b.port, topic, message: 'from-mosquitto', qos: 1, version, username: 'urn:dev:2' });
      assert.equal(pub.code, 0, pub.stderr);
      assert.equal((await nextMessage(plain)).payload.toString(), 'from-mosquitto');
    });
  }
});

describe("usernames with vhostSeparator ':' pick their pool", () => {
  const recorder = new Recorder();
  const b = brokerForSuite({ workers: 2, vhostSeparator: ':' }, { plugins: [recorder.plugin] });

  for (const version of VERSIONS) {
    test(`${label(version)}: urn:dev:1 is user dev:1 of pool urn, apart from the default pool`, async () => {
      const topic = uniqueTopic('split');
      const plain = await connectClient(b.port, { version });
      await plain.subscribeAsync(topic, { qos: 1 });
      const sameVhost = await connectClient(b.port, { version, username: 'urn:other' });
      await sameVhost.subscribeAsync(topic, { qos: 1 });
      const named = await connectClient(b.port, { version, username: 'urn:dev:1' });
      assert.deepEqual(registeredAs(recorder, named.clientId), { username: 'dev:1', mountpoint: 'urn' });
      await named.publishAsync(topic, 'in-urn', { qos: 1 });
      assert.equal((await nextMessage(sameVhost)).payload.toString(), 'in-urn');
      await expectNoMessage(plain);
      if (skipMosquitto) return;
      const pub = await mosquittoPub({ port: b.port, topic, message: 'mosquitto-in-urn', qos: 1, version, username: 'urn:dev:2' });
      assert.equal(pub.code, 0, pub.stderr);
      assert.equal((await nextMessage(sameVhost)).payload.toString(), 'mosquitto-in-urn');
      await expectNoMessage(plain);
    });
  }
});
