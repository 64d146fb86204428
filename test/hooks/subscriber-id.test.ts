/**
 * Hooks: one session per subscriber id, whatever the worker count. An
 * auth_on_register plugin gives every client id `<identity>~<device>` the
 * subscriber id `<identity>`; the devices' client ids are picked so the
 * broker places them on different actor hosts, none (with 4 workers) or
 * only the second (with 2) on the host that owns the identity. Each CONNECT
 * continues on that owner's host: the second device takes the first one's
 * session over as equal client ids would (DISCONNECT 0x8E on 5.0), finds it
 * present with the QoS 1 message mosquitto_pub published while neither was
 * connected, and the broker holds one session of the identity, on its
 * owner's host; packets a client sends right behind its CONNECT follow it
 * there in order. The plugin is a module plugin answering in each worker, or
 * an in-process one answering over hookCall frames. mqtt.js and
 * mosquitto_pub over real sockets, MQTT 3.1.1 and 5.0, 2 and 4 workers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { BrokerOptions } from '../../src/index.js';
import type { Plugin } from '../../src/api/hooks.js';
import { hostFor } from '../../src/shared/placement.js';
import { brokerForSuite } from '../helpers/broker.js';
import {
  connectClient,
  nextMessage,
  once,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { mosquittoAvailable, mosquittoPub } from '../helpers/mosquitto.js';
import { idOnHost } from '../helpers/placement.js';
import { RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';
import { IDENTITY_SEPARATOR, rewriteIdentity } from './fixtures/identity-plugin.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/identity-plugin.js', import.meta.url));

/** The fixture's rewrite, answered on the main thread (from worker hosts: hookCall frames, asynchronously). */
const inProcess: Plugin = {
  auth_on_register: (_peer, subscriberId) => rewriteIdentity(subscriberId),
  auth_on_register_m5: (_peer, subscriberId) => rewriteIdentity(subscriberId),
};

const withMosquitto = mosquittoAvailable();

interface Setup {
  name: string;
  config: BrokerOptions;
  plugins: Plugin[];
}

/** Publishes a QoS 1 message with mosquitto_pub (mqtt.js where the tools are missing); resolves once it was acknowledged. */
async function publishQos1(port: number, version: Version, topic: string, message: string): Promise<void> {
  if (withMosquitto) {
    const pub = await mosquittoPub({ port, topic, message, qos: 1, version });
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /received PUBACK/);
    return;
  }
  const client = await connectClient(port, { version });
  await client.publishAsync(topic, message, { qos: 1 });
  await client.endAsync();
}

/** Resolves once `client` lost its connection to a takeover: 5.0 with DISCONNECT 0x8E first. */
async function takenOver(client: TestClient, version: Version): Promise<void> {
  if (version === 5) {
    const [packet] = await once<[{ reasonCode?: number }]>(client, 'disconnect');
    assert.equal(packet.reasonCode, 0x8e, 'Session taken over');
  }
  if (client.connected) await once(client, 'close');
}

for (const workers of [2, 4]) {
  const setups: Setup[] = [
    { name: 'module plugin', config: { workers, plugins: [FIXTURE] }, plugins: [] },
    { name: 'in-process plugin', config: { workers }, plugins: [inProcess] },
  ];
  for (const setup of setups) {
    describe(`one session per subscriber id (${setup.name}, workers ${workers})`, () => {
      const b = brokerForSuite(setup.config, { plugins: setup.plugins });

      /** An identity and two device client ids on two other hosts than each other, the first never on the identity's host. */
      function devices(): { identity: string; owner: number; first: string; second: string } {
        const identity = uniqueId('who');
        const owner = hostFor('', identity, workers);
        const firstHost = (owner + 1) % workers;
        const secondHost = (owner + 2) % workers;
        const device = (host: number): string => idOnHost(host, workers, `${identity}${IDENTITY_SEPARATOR}dev`);
        return { identity, owner, first: device(firstHost), second: device(secondHost) };
      }

      for (const version of VERSIONS) {
        test(`${label(version)}: ${rule(version, '3.1.4-3', '3.1.4-3')} the second device takes the session over, present with the message queued while neither was connected`, async () => {
          const { identity, owner, first, second } = devices();
          assert.notEqual(hostFor('', first, workers), hostFor('', second, workers));
          const topic = uniqueTopic('sid');

          const firstOnline = once<[string, { sessionPresent: boolean }]>(b.broker, 'client-connected', undefined, (id) => id === identity);
          const a = await connectClient(b.port, { version, clientId: first, ...persistent(version) });
          assert.equal((await firstOnline)[1].sessionPresent, false);
          await a.subscribeAsync(topic, { qos: 1 });
          const offline = once(b.broker, 'client-disconnected', undefined, (id) => id === identity);
          await a.endAsync();
          await offline;

          await publishQos1(b.port, version, topic, 'queued for the identity');

          const c = await connectClient(b.port, { version, clientId: second, ...persistent(version) });
          assert.equal(c.connack.sessionPresent, true, 'the second device finds the session of the first [MQTT-3.2.2-2]');
          const queued = await nextMessage(c, (m) => m.topic === topic);
          assert.equal(queued.payload.toString(), 'queued for the identity');
          assert.equal(queued.packet.qos, 1);

          // Back on the first device while the second is connected: a takeover, as with equal client ids.
          const takeover = once<[string, { cause: string }]>(b.broker, 'client-disconnected', undefined, (id) => id === identity);
          const lost = takenOver(c, version);
          const again = await connectClient(b.port, { version, clientId: first, ...persistent(version) });
          await lost;
          assert.equal((await takeover)[1].cause, 'takeover');
          assert.equal(again.connack.sessionPresent, true);
          await again.publishAsync(topic, 'still subscribed', { qos: 1 });
          assert.equal((await nextMessage(again, (m) => m.topic === topic)).payload.toString(), 'still subscribed');

          const sessions = (await b.broker.topSessions({ by: 'packets', limit: 1000 })).filter((s) => s.clientId === identity);
          assert.deepEqual(
            sessions.map((s) => ({ host: s.host, connected: s.connected })),
            [{ host: owner, connected: true }],
            "one session of the identity, on its owner's host",
          );
        });

        test(`${label(version)}: ${rule(version, '4.6.0-6', '4.6.0-6')} packets sent right behind the moving CONNECT reach the session in order`, async () => {
          const { identity, owner, first } = devices();
          const topic = uniqueTopic('pipelined');
          const raw = await RawClient.connect(b.port, version);
          raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId: first });
          raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
          for (const [messageId, payload] of [
            [2, 'one'],
            [3, 'two'],
            [4, 'three'],
          ] as const) {
            raw.send({ cmd: 'publish', messageId, topic, payload, qos: 1, retain: false, dup: false });
          }
          const connack = await raw.expectPacket('connack');
          assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0);
          assert.deepEqual((await raw.waitForPacket('suback')).granted, [1], 'the SUBSCRIBE came before the PUBLISHes');
          const delivered: string[] = [];
          for (let i = 0; i < 3; i++) delivered.push((await raw.waitForPacket('publish')).payload.toString());
          assert.deepEqual(delivered, ['one', 'two', 'three']);
          const sessions = (await b.broker.topSessions({ by: 'packets', limit: 1000 })).filter((s) => s.clientId === identity);
          assert.deepEqual(
            sessions.map((s) => s.host),
            [owner],
          );
        });

        test(`${label(version)}: two devices connecting at once end with one connected session`, async () => {
          const { identity, first, second } = devices();
          const results = await Promise.allSettled([
            connectClient(b.port, { version, clientId: first, ...persistent(version) }),
            connectClient(b.port, { version, clientId: second, ...persistent(version) }),
          ]);
          const clients = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
          assert.ok(clients.length > 0, 'at least one device got its CONNACK');
          const sessions = (await b.broker.topSessions({ by: 'packets', limit: 1000 })).filter((s) => s.clientId === identity);
          assert.equal(sessions.length, 1, 'one session of the identity');
          assert.equal(sessions[0]!.connected, true);
        });
      }
    });
  }
}
