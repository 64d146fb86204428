/**
 * Session runtime: each callback of a runtime module (the recording fixture,
 * loaded by path) is called when README "Session runtime" says, with the
 * arguments it says, and its answer takes effect after the plugins':
 * new_user_context and connect (a refusal, a later answer), is_allowed for
 * PUBLISH, each SUBSCRIBE filter, the will and each retained message sent on
 * subscribe, is_valid_message, control_message, vhost_pool / pool_default,
 * and reauth. Hosts on the main thread and in a worker; 3.1.1 and 5.0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket } from 'mqtt';
import { brokerForSuite } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  expectNoMessage,
  nextMessage,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { RUNTIME_FIXTURE, RuntimeCalls, WORKER_COUNTS } from './support.js';

const label = (v: Version): string => (v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');
const refusedCode = (v: Version): number => (v === 5 ? 0x87 : 5);
const ctxUser = (ctx: unknown): unknown => (ctx as { user?: unknown } | undefined)?.user;

/** The reason code of a QoS 1 PUBLISH's PUBACK (mqtt.js rejects a failure code on 5.0). */
async function pubackCode(client: TestClient, topic: string, payload: string): Promise<number> {
  try {
    const ack = await client.publishAsync(topic, payload, { qos: 1 });
    return (ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (err) {
    return (err as { code: number }).code;
  }
}

/** The SUBACK codes of a SUBSCRIBE (mqtt.js rejects a failure code). */
async function subackCodes(client: TestClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    return (err as { packet: { granted: number[] } }).packet.granted;
  }
}

for (const workers of WORKER_COUNTS) {
  describe(`runtime callbacks (workers: ${workers})`, () => {
    let calls: RuntimeCalls;
    before(() => {
      calls = new RuntimeCalls();
    });
    const tb = brokerForSuite({ workers, runtime: RUNTIME_FIXTURE }, { closeClientsAfterEach: false });
    after(() => calls.close());

    for (const version of VERSIONS) {
      test(`${label(version)}: new_user_context for a new session, connect on every CONNECT with the session's user context`, async () => {
        const clientId = uniqueId('nc');
        const first = await connectClient(tb.port, { version, clientId, username: 'alice', ...persistent(version) });
        const created = await calls.waitFor('new_user_context', (a) => a[1] === clientId);
        assert.equal(created.args[0], '');
        assert.equal((created.args[2] as { transport: string }).transport, 'tcp');
        const connect = await calls.waitFor('connect', (a) => (a[0] as { clientId: string }).clientId === clientId);
        assert.deepEqual(connect.args[0], { clientId, username: 'alice' });
        assert.equal(connect.args[1], false);
        assert.equal(ctxUser(connect.args[3]), undefined);
        await closeClient(first);
        const again = await connectClient(tb.port, { version, clientId, username: 'alice', ...persistent(version) });
        assert.equal(again.connack.sessionPresent, true);
        const reattach = await calls.waitFor('connect', (a) => (a[0] as { clientId: string }).clientId === clientId && a[1] === true);
        assert.equal(ctxUser(reattach.args[3]), 'alice');
        assert.equal(calls.of('new_user_context', (a) => a[1] === clientId).length, 1);
        await closeClient(again);
      });

      test(`${label(version)}: connect refusing gives its CONNACK code; an answer given later is waited for`, async () => {
        await assert.rejects(
          connectClient(tb.port, { version, username: 'refused' }),
          (err: { code?: number }) => err.code === refusedCode(version),
        );
        const slow = await connectClient(tb.port, { version, username: 'slow' });
        assert.equal(slow.connected, true);
        await closeClient(slow);
      });

      if (version === 5) {
        test(`${label(version)}: connect refusing with 0x9D and a Server Reference sends both in the CONNACK`, async () => {
          const raw = await RawClient.connect(tb.port, version);
          const connack = await raw.handshake({ username: 'moved' });
          assert.equal(connack.reasonCode, 0x9d);
          assert.equal(connack.properties?.serverReference, 'new.example:1883');
        });
      }

      test(`${label(version)}: is_allowed('publish', topic, message, ctx) after the plugins; refused: ${version === 5 ? 'PUBACK 0x87' : 'acknowledged, not routed'}`, async () => {
        const root = uniqueTopic('pub');
        const sub = await connectClient(tb.port, { version });
        await sub.subscribeAsync(`${root}/#`, { qos: 1 });
        const pub = await connectClient(tb.port, { version, username: 'carol' });
        assert.equal(await pubackCode(pub, `${root}/denied`, 'no'), version === 5 ? 0x87 : 0);
        const call = await calls.waitFor('is_allowed', (a) => a[1] === `${root}/denied`);
        assert.equal(call.args[0], 'publish');
        assert.equal((call.args[2] as { topic: string }).topic, `${root}/denied`);
        assert.equal(ctxUser(call.args[3]), 'carol');
        await pub.publishAsync(`${root}/later`, 'yes', { qos: 1 });
        const got = await nextMessage(sub);
        assert.equal(got.topic, `${root}/later`);
        await expectNoMessage(sub);
      });

      test(`${label(version)}: is_allowed('subscribe', filter, packet, ctx) per filter; refused: ${version === 5 ? '0x87' : '0x80'} for that filter`, async () => {
        const root = uniqueTopic('sub');
        const client = await connectClient(tb.port, { version });
        const granted = await subackCodes(client, [`${root}/ok`, `${root}/denied`, `${root}/later`]);
        assert.deepEqual(granted, [1, version === 5 ? 0x87 : 0x80, 1]);
        const call = await calls.waitFor('is_allowed', (a) => a[1] === `${root}/ok`);
        assert.equal(call.args[0], 'subscribe');
        assert.equal((call.args[2] as { cmd: string }).cmd, 'subscribe');
      });

      test(`${label(version)}: each retained message sent on subscribe passes is_allowed('subscribe', its topic)`, async () => {
        const root = uniqueTopic('ret');
        await tb.broker.publish({ topic: `${root}/ok`, payload: 'a', retain: true, qos: 1 });
        await tb.broker.publish({ topic: `${root}/denied`, payload: 'b', retain: true, qos: 1 });
        const client = await connectClient(tb.port, { version });
        await client.subscribeAsync(`${root}/#`, { qos: 1 });
        const got = await nextMessage(client);
        assert.equal(got.topic, `${root}/ok`);
        await calls.waitFor('is_allowed', (a) => a[0] === 'subscribe' && a[1] === `${root}/denied`);
        await expectNoMessage(client);
      });

      test(`${label(version)}: the will passes is_allowed('publish', will topic) at CONNECT; refused: CONNACK not authorized`, async () => {
        const root = uniqueTopic('will');
        await assert.rejects(
          connectClient(tb.port, { version, will: { topic: `${root}/denied`, payload: Buffer.from('w'), qos: 0, retain: false } }),
          (err: { code?: number }) => err.code === refusedCode(version),
        );
        const ok = await connectClient(tb.port, {
          version,
          will: { topic: `${root}/ok`, payload: Buffer.from('w'), qos: 0, retain: false },
        });
        await calls.waitFor('is_allowed', (a) => a[0] === 'publish' && a[1] === `${root}/ok`);
        await closeClient(ok);
      });

      test(`${label(version)}: is_valid_message(packet, opts, ctx) on every packet; false closes${version === 5 ? ' with DISCONNECT 0x82' : ''}`, async () => {
        const raw = await RawClient.connect(tb.port, version);
        const connack = await raw.handshake();
        assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0);
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp');
        const ping = await calls.waitFor('is_valid_message', (a) => (a[0] as { cmd: string }).cmd === 'pingreq');
        assert.equal((ping.args[1] as { transport: string }).transport, 'tcp');
        raw.send({ cmd: 'publish', topic: 'invalid/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
        const closed = await raw.expectClose();
        if (version === 5) {
          const disconnect = closed.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
          assert.equal(disconnect?.reasonCode, 0x82);
        }
      });

      test(`${label(version)}: a QoS 0 PUBLISH to $client/<own id>/... goes to control_message, is not routed, and updates the user context`, async () => {
        const clientId = uniqueId('ctl');
        const watcher = await connectClient(tb.port, { version });
        await watcher.subscribeAsync(`$client/${clientId}/#`, { qos: 0 });
        const client = await connectClient(tb.port, { version, clientId });
        await client.publishAsync(`$client/${clientId}/hello/${version}`, 'x', { qos: 0 });
        const call = await calls.waitFor(
          'control_message',
          (a) => (a[1] as { topic: string }).topic === `$client/${clientId}/hello/${version}`,
        );
        assert.equal(call.args[0], `hello/${version}`);
        assert.equal(ctxUser(call.args[2]), undefined);
        await expectNoMessage(watcher);
        // Another client's $client topic routes normally.
        const other = await connectClient(tb.port, { version });
        await other.publishAsync(`$client/${clientId}/from-other`, 'y', { qos: 0 });
        assert.equal((await nextMessage(watcher)).topic, `$client/${clientId}/from-other`);
        // The new user context is what later callbacks get: 'lock' makes is_allowed refuse publishes.
        await client.publishAsync(`$client/${clientId}/lock`, 'z', { qos: 0 });
        await calls.waitFor('control_message', (a) => (a[1] as { topic: string }).topic === `$client/${clientId}/lock`);
        const root = uniqueTopic('locked');
        await watcher.subscribeAsync(`${root}`, { qos: 1 });
        assert.equal(await pubackCode(client, root, 'refused'), version === 5 ? 0x87 : 0);
        await expectNoMessage(watcher);
      });

      test(`${label(version)}: vhost_pool for a vhost:user username; an unknown vhost gets CONNACK server unavailable`, async () => {
        const client = await connectClient(tb.port, { version, username: 'known:dave' });
        await calls.waitFor('vhost_pool', (a) => a[0] === 'known');
        const created = await calls.waitFor('new_user_context', (a) => a[1] === client.clientId);
        assert.equal(created.args[0], 'pool-known');
        const connect = await calls.waitFor('connect', (a) => (a[0] as { clientId: string }).clientId === client.clientId);
        assert.equal((connect.args[0] as { username: string }).username, 'dave');
        await assert.rejects(
          connectClient(tb.port, { version, username: 'nowhere:dave' }),
          (err: { code?: number }) => err.code === (version === 5 ? 0x88 : 3),
        );
        const plain = await connectClient(tb.port, { version });
        await calls.waitFor('pool_default');
        await closeClient(plain);
      });
    }

    test('MQTT 5.0: reauth answers each step of an enhanced authentication when no plugin implements on_auth_m5', async () => {
      const raw = await RawClient.connect(tb.port, 5);
      const connack: IConnackPacket = await raw.handshake({
        username: 'erin',
        properties: { authenticationMethod: 'rt-method', authenticationData: Buffer.from('good') },
      });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.properties?.authenticationData?.toString(), 'welcome');
      const atConnect = await calls.waitFor('reauth', (a) => (a[0] as { reauthentication: boolean }).reauthentication === false);
      assert.deepEqual(atConnect.args[0], { method: 'rt-method', data: 'good', reauthentication: false });
      raw.send({
        cmd: 'auth',
        reasonCode: 0x19,
        properties: { authenticationMethod: 'rt-method', authenticationData: Buffer.from('good') },
      });
      const auth = (await raw.expectPacket('auth')) as { reasonCode?: number };
      assert.equal(auth.reasonCode, 0);
      const again = await calls.waitFor('reauth', (a) => (a[0] as { reauthentication: boolean }).reauthentication === true);
      assert.equal(ctxUser(again.args[1]), 'erin');
      const other = await RawClient.connect(tb.port, 5);
      const refused = await other.handshake({ properties: { authenticationMethod: 'other-method' } });
      assert.equal(refused.reasonCode, 0x8c);
      const patient = await RawClient.connect(tb.port, 5);
      const late: IConnackPacket = await patient.handshake({
        properties: { authenticationMethod: 'rt-method', authenticationData: Buffer.from('later') },
      });
      assert.equal(late.reasonCode, 0, 'a step answered with a promise');
      assert.equal(late.properties?.authenticationData?.toString(), 'welcome');
    });
  });
}
