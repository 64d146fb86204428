/**
 * Pools with the default runtime: a `vhost:user` username puts a client in
 * pool `vhost` (plugins see the user part and the pool as mountpoint), a
 * listener's pool (listenerPools) holds the clients without a vhost, a vhost
 * other than its listener's gets CONNACK server unavailable; pools are
 * separate routing, retained and session namespaces, and the broker's
 * `$SYS/...` messages reach subscribers of every pool (the default pool's
 * tree). 3.1.1 and 5.0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeAllClients,
  closeClient,
  connectClient,
  expectNoMessage,
  nextMessage,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type Version,
} from '../helpers/clients.js';
import { Recorder } from '../hooks/support.js';
import { startWsBroker, type WsBroker } from './support.js';

const label = (v: Version): string => (v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');

describe('pools', () => {
  let tb: WsBroker;
  const recorder = new Recorder();
  before(async () => {
    tb = await startWsBroker({ listenerPools: { ws: 'web' }, vhostSeparator: ':' }, [recorder.plugin]);
  });
  after(async () => {
    await closeAllClients();
    await tb.close();
  });

  for (const version of VERSIONS) {
    test(`${label(version)}: vhost:user joins pool vhost; plugins get the user part and the pool as mountpoint`, async () => {
      const client = await connectClient(tb.port, { version, username: 'red:ann' });
      const hook = version === 5 ? 'auth_on_register_m5' : 'auth_on_register';
      const call = recorder.calls.find((c) => c.hook === hook && (c.args[1] as { clientId: string }).clientId === client.clientId);
      assert.deepEqual(call?.args[1], { mountpoint: 'red', clientId: client.clientId });
      assert.equal(call?.args[2], 'ann');
      await closeClient(client);
    });

    test(`${label(version)}: pools are separate routing and retained namespaces`, async () => {
      const topic = uniqueTopic('pool');
      await (await connectClient(tb.port, { version, username: 'red:x' })).publishAsync(topic, 'old', { qos: 1, retain: true });
      const red = await connectClient(tb.port, { version, username: 'red:a' });
      const blue = await connectClient(tb.port, { version, username: 'blue:b' });
      const plain = await connectClient(tb.port, { version });
      for (const c of [red, blue, plain]) await c.subscribeAsync(topic, { qos: 1 });
      assert.equal((await nextMessage(red)).payload.toString(), 'old');
      await blue.publishAsync(topic, 'from-blue', { qos: 1 });
      assert.equal((await nextMessage(blue)).payload.toString(), 'from-blue');
      await expectNoMessage(red);
      await expectNoMessage(plain);
    });

    test(`${label(version)}: one client id in two pools is two sessions (no takeover)`, async () => {
      const clientId = uniqueId('twin');
      const red = await connectClient(tb.port, { version, clientId, username: 'red:a' });
      const blue = await connectClient(tb.port, { version, clientId, username: 'blue:a' });
      await red.subscribeAsync(uniqueTopic('alive'));
      assert.equal(red.connected && blue.connected, true);
    });

    test(`${label(version)}: the broker's $SYS/... messages reach subscribers of every pool`, async () => {
      const topic = `$SYS/${uniqueId('sys')}`;
      const red = await connectClient(tb.port, { version, username: 'red:a' });
      const plain = await connectClient(tb.port, { version });
      await red.subscribeAsync(`${topic}/#`, { qos: 1 });
      await plain.subscribeAsync(`${topic}/#`, { qos: 1 });
      await tb.broker.publish({ topic: `${topic}/first`, payload: 'f', qos: 1, retain: false });
      assert.equal((await nextMessage(red)).topic, `${topic}/first`);
      assert.equal((await nextMessage(plain)).topic, `${topic}/first`);
      await tb.broker.publish({ topic: `${topic}/broker`, payload: 'x', qos: 1, retain: true });
      assert.equal((await nextMessage(red)).topic, `${topic}/broker`);
      assert.equal((await nextMessage(plain)).topic, `${topic}/broker`);
      const late = await connectClient(tb.port, { version, username: 'green:c' });
      await late.subscribeAsync(`${topic}/broker`, { qos: 1 });
      assert.equal((await nextMessage(late)).payload.toString(), 'x');
      await red.unsubscribeAsync(`${topic}/#`);
      await tb.broker.publish({ topic: `${topic}/after`, payload: 'b', qos: 1, retain: false });
      assert.equal((await nextMessage(plain)).topic, `${topic}/after`);
      await expectNoMessage(red);
    });

    test(`${label(version)}: a listener's pool holds its clients without a vhost; another vhost there gets CONNACK server unavailable`, async () => {
      const topic = uniqueTopic('listener');
      const web = await connectClient(tb.wsPort, tb.overWs({ version }));
      const webNamed = await connectClient(tb.wsPort, tb.overWs({ version, username: 'web:u' }));
      const tcp = await connectClient(tb.port, { version });
      for (const c of [web, webNamed, tcp]) await c.subscribeAsync(topic, { qos: 1 });
      await webNamed.publishAsync(topic, 'w', { qos: 1 });
      assert.equal((await nextMessage(web)).payload.toString(), 'w');
      await expectNoMessage(tcp);
      await assert.rejects(
        connectClient(tb.wsPort, tb.overWs({ version, username: 'red:u' })),
        (err: { code?: number }) => err.code === (version === 5 ? 0x88 : 3),
      );
    });
  }
});
