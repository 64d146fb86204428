/**
 * Integration: the defaults of a broker on a network. Anonymous access only
 * on loopback: with `allowAnonymous` unset, a broker bound to 0.0.0.0
 * refuses clients no plugin authenticated (CONNACK 0x87, 3.1.1 return code
 * 5) on every listener and in every host, and says why in its log, while
 * one bound to 127.0.0.1 accepts them; set, `allowAnonymous` is obeyed
 * either way (allowed on 0.0.0.0 with a warning). Usernames stay usernames:
 * without `vhostSeparator` a username with colons is one user of the
 * default pool (plugins see it whole), with `vhostSeparator: ':'` its vhost
 * picks the pool. mosquitto_pub / mosquitto_sub and mqtt.js clients (and a
 * raw client for the close after the CONNACK) over real sockets, MQTT 3.1.1
 * and 5.0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Plugin } from '../../src/api/hooks.js';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, expectNoMessage, nextMessage, uniqueId, uniqueTopic, VERSIONS, type Version } from '../helpers/clients.js';
import { LogCapture } from '../helpers/log-capture.js';
import { mosquittoAvailable, mosquittoPub, mosquittoSub } from '../helpers/mosquitto.js';
import { RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';
import { Recorder } from '../hooks/support.js';

/** Outside CI a machine without the tools skips the mosquitto tests; in CI (which installs them) a missing tool fails them. */
const skipMosquitto =
  mosquittoAvailable() || process.env.CI ? false : 'mosquitto_pub/mosquitto_sub not installed (apt-get install mosquitto-clients)';

/** The CONNACK code of a refusal for not being authorized: 5.0 reason code 0x87, 3.1.1 return code 5. */
const notAuthorized = (version: Version): number => (version === 5 ? 0x87 : 5);

/** mosquitto_pub exits with the CONNACK code it got and says so. */
async function expectMosquittoRefused(port: number, version: Version): Promise<void> {
  const pub = await mosquittoPub({ port, topic: uniqueTopic('anon'), message: 'x', version });
  assert.equal(pub.code, notAuthorized(version), `${pub.stdout}${pub.stderr}`);
  assert.match(pub.stdout, new RegExp(`received CONNACK \\(${notAuthorized(version)}\\)`));
}

/** Anonymous clients are served: mqtt.js connects, and mosquitto_sub gets its SUBACK and a message mqtt.js publishes. */
async function expectAnonymousServed(port: number, version: Version): Promise<void> {
  const pub = await connectClient(port, { version });
  assert.equal(pub.connack.sessionPresent, false);
  if (skipMosquitto) return;
  const topic = uniqueTopic('anon');
  const sub = mosquittoSub({ port, topic, qos: 1, version });
  await sub.subscribed;
  await pub.publishAsync(topic, 'served', { qos: 1 });
  const result = await sub.done;
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.messages, [{ topic, qos: 1, retain: false, payload: 'served' }]);
}

/** A raw anonymous CONNECT gets CONNACK not authorized, then the server closes the connection. */
async function expectRawRefused(port: number, version: Version): Promise<void> {
  const raw = await RawClient.connect(port, version);
  const connack = await raw.handshake({ clientId: uniqueId('anon') });
  assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, notAuthorized(version));
  await raw.expectClose();
}

/** Only user alice with password `wonderland` is known; anyone else is left to allowAnonymous ('next'). */
const alicePlugin: Plugin = {
  auth_on_register: (_peer, _sid, username, password) => knowsAlice(username, password),
  auth_on_register_m5: (_peer, _sid, username, password) => knowsAlice(username, password),
};

function knowsAlice(username: string | undefined, password: Buffer | undefined): 'ok' | 'next' {
  return username === 'alice' && password?.toString() === 'wonderland' ? 'ok' : 'next';
}

for (const workers of [0, 2]) {
  describe(`allowAnonymous unset, bound to 0.0.0.0 (workers ${workers}): anonymous clients refused`, () => {
    const capture = new LogCapture();
    const b = brokerForSuite({ host: '0.0.0.0', workers, wsPort: 0, logger: pino({ level: 'info' }, capture) });

    test('the log says at start that anonymous clients are refused, naming the listeners', async () => {
      const msg = 'anonymous clients are refused: a listener binds a non-loopback address (set allowAnonymous to decide otherwise)';
      const line = await capture.find((r) => r['msg'] === msg, 'the refusal line');
      assert.deepEqual(line['listeners'], [`tcp 0.0.0.0:${b.port}`, `ws 0.0.0.0:${b.broker.addresses().ws?.port}`]);
    });

    for (const version of VERSIONS) {
      test(`${label(version)}: ${rule(version, '3.2.2-5', '3.2.2-7')} CONNACK ${notAuthorized(version)}, then the close`, async () => {
        await expectRawRefused(b.port, version);
      });

      test(`${label(version)}: mosquitto_pub is refused`, { skip: skipMosquitto }, async () => {
        await expectMosquittoRefused(b.port, version);
      });

      test(`${label(version)}: mqtt.js is refused over TCP and over WebSocket`, async () => {
        const refused = (err: { code?: number }): boolean => err.code === notAuthorized(version);
        await assert.rejects(connectClient(b.port, { version }), refused);
        const ws = b.broker.addresses().ws!.port;
        await assert.rejects(connectClient(ws, { version, protocol: 'ws', path: b.broker.config.wsPath }), refused);
      });
    }
  });
}

describe('allowAnonymous unset, bound to 0.0.0.0, with an authentication plugin', () => {
  const b = brokerForSuite({ host: '0.0.0.0', workers: 2 }, { plugins: [alicePlugin] });

  for (const version of VERSIONS) {
    test(`${label(version)}: the user the plugin knows gets in; a client every plugin passed on ('next') is refused`, async () => {
      const alice = await connectClient(b.port, { version, username: 'alice', password: Buffer.from('wonderland') });
      assert.equal(alice.connected, true);
      await assert.rejects(
        connectClient(b.port, { version, username: 'bob' }),
        (err: { code?: number }) => err.code === notAuthorized(version),
      );
      await expectRawRefused(b.port, version);
    });
  }
});

describe('allowAnonymous unset, bound to 127.0.0.1: anonymous clients accepted', () => {
  const b = brokerForSuite({ host: '127.0.0.1', workers: 2 });

  for (const version of VERSIONS) {
    test(`${label(version)}: mosquitto_sub and mqtt.js connect anonymously`, () => expectAnonymousServed(b.port, version));
  }
});

describe('allowAnonymous true, bound to 0.0.0.0: accepted, with a warning at start', () => {
  const capture = new LogCapture();
  const b = brokerForSuite({ host: '0.0.0.0', workers: 2, allowAnonymous: true, logger: pino({ level: 'info' }, capture) });

  test('the warning names the listener', async () => {
    const msg = 'anonymous clients are allowed on a non-loopback address (allowAnonymous: true)';
    const line = await capture.find((r) => r['msg'] === msg, 'the warning');
    assert.equal(line['level'], 40);
    assert.deepEqual(line['listeners'], [`tcp 0.0.0.0:${b.port}`]);
  });

  for (const version of VERSIONS) {
    test(`${label(version)}: mosquitto_sub and mqtt.js connect anonymously`, () => expectAnonymousServed(b.port, version));
  }
});

describe('allowAnonymous false, bound to 127.0.0.1: refused', () => {
  const capture = new LogCapture();
  const b = brokerForSuite({ host: '127.0.0.1', workers: 2, allowAnonymous: false, logger: pino({ level: 'info' }, capture) });

  for (const version of VERSIONS) {
    test(`${label(version)}: ${rule(version, '3.2.2-5', '3.2.2-7')} mqtt.js, mosquitto_pub and a raw client are refused`, async () => {
      await assert.rejects(connectClient(b.port, { version }), (err: { code?: number }) => err.code === notAuthorized(version));
      await expectRawRefused(b.port, version);
      if (!skipMosquitto) await expectMosquittoRefused(b.port, version);
    });
  }

  test('nothing about anonymous clients is logged: the listener is on loopback', () => {
    assert.equal(
      capture.records.some((r) => String(r['msg']).startsWith('anonymous clients')),
      false,
    );
  });
});

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
