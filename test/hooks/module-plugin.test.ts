/**
 * Module plugins (config.plugins, by path) with two worker hosts, under MQTT
 * 3.1.1 and 5.0: every host loads the module (its factory gets the host
 * index); its hooks run in the worker beside the sessions; they come before
 * the in-process plugins of broker.addPlugin (which a worker calls over
 * hookCall frames only when the module answered `next`); a module that fails
 * to load makes listen() fail. The fixture reports its calls on a
 * BroadcastChannel.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createBroker } from '../../src/index.js';
import { brokerForSuite } from '../helpers/broker.js';
import { ChannelLog } from '../helpers/channel.js';
import { connectClient, nextMessage, uniqueId, uniqueTopic, VERSIONS, type Version } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import { CHANNEL, type Report } from './fixtures/recording-plugin.js';
import { Recorder } from './support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/recording-plugin.js', import.meta.url));
const BROKEN = fileURLToPath(new URL('./fixtures/broken-plugin.js', import.meta.url));

/** The fixture's reports, as they arrive from the worker hosts. */
class Reports extends ChannelLog<Report> {
  constructor() {
    super(CHANNEL);
  }

  override waitFor(match: (r: Report) => boolean, what: string): Promise<Report> {
    return super.waitFor(match, `report of ${what}`);
  }
}

function forClient(clientId: string, hook: string): (r: Report) => boolean {
  return (r) => r.hook === hook && r.args.some((a) => (a as { clientId?: string } | null)?.clientId === clientId);
}

function code(version: Version, connack: { reasonCode?: number; returnCode?: number }): number | undefined {
  return version === 5 ? connack.reasonCode : connack.returnCode;
}

describe('module plugins (workers 2)', () => {
  const reports = new Reports();
  const recorder = new Recorder('in-process');
  recorder.answerBoth('auth_on_register', (_p, _sid, username) => (username === 'inproc-deny' ? { error: 'not_allowed' } : 'ok'));
  const b = brokerForSuite({ workers: 2, plugins: [FIXTURE] }, { plugins: [recorder.plugin] });
  after(() => reports.close());

  test('every actor host loads the module once, its factory told the host index', async () => {
    await reports.waitFor((r) => r.hook === 'loaded' && r.hostIndex === 0, 'host 0 loading');
    await reports.waitFor((r) => r.hook === 'loaded' && r.hostIndex === 1, 'host 1 loading');
    assert.equal(reports.all.filter((r) => r.hook === 'loaded').length, 2);
  });

  for (const version of VERSIONS) {
    const m5 = (hook: string): string => (version === 5 ? `${hook}_m5` : hook);

    test(`${label(version)}: the module runs first, in the worker, with VerneMQ's arguments; when it accepts, the in-process plugin is not asked`, async () => {
      const clientId = uniqueId('mod');
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake({ clientId, username: 'mo', password: Buffer.from('module-ok') });
      assert.equal(code(version, connack), 0);
      const report = await reports.waitFor(forClient(clientId, m5('auth_on_register')), 'auth_on_register');
      const [peer, sid, username, password, clean] = report.args;
      assert.equal((peer as { address: string }).address, '127.0.0.1');
      assert.deepEqual(sid, { mountpoint: '', clientId });
      assert.equal(username, 'mo');
      assert.equal(Buffer.from(password as Uint8Array).toString(), 'module-ok');
      assert.equal(clean, true);
      assert.deepEqual(recorder.sequence(clientId, [m5('auth_on_register')]), [], 'decided by the module');
      await reports.waitFor(forClient(clientId, m5('on_register')), 'on_register in the module');
      await recorder.waitFor(m5('on_register'), clientId);
    });

    test(`${label(version)}: a module refusal is final`, async () => {
      const clientId = uniqueId('modno');
      const raw = await RawClient.connect(b.port, version);
      const connack = await raw.handshake({ clientId, username: 'md', password: Buffer.from('module-deny') });
      assert.equal(code(version, connack), version === 5 ? 0x86 : 4);
      assert.deepEqual(recorder.sequence(clientId), []);
    });

    test(`${label(version)}: when the module answers next, the in-process plugin decides (composition order: module, then in-process)`, async () => {
      const accepted = uniqueId('next');
      const raw = await RawClient.connect(b.port, version);
      assert.equal(code(version, await raw.handshake({ clientId: accepted, username: 'anyone' })), 0);
      await reports.waitFor(forClient(accepted, m5('auth_on_register')), 'auth_on_register');
      await recorder.waitFor(m5('auth_on_register'), accepted);
      const refused = uniqueId('next');
      const raw2 = await RawClient.connect(b.port, version);
      assert.equal(code(version, await raw2.handshake({ clientId: refused, username: 'inproc-deny' })), version === 5 ? 0x87 : 5);
    });

    test(`${label(version)}: a module's auth_on_publish modifiers rewrite the topic; other topics go on to the in-process plugin`, async () => {
      const topic = uniqueTopic('modpub');
      const sub = await connectClient(b.port, { version });
      await sub.subscribeAsync(`${topic}/#`, { qos: 1 });
      const pub = await connectClient(b.port, { version });
      await pub.publishAsync(`${topic}/module/in`, 'rewritten by the module', { qos: 1 });
      const m = await nextMessage(sub);
      assert.equal(m.topic, `${topic}/module/out`);
      assert.deepEqual(recorder.sequence(pub.clientId, [m5('auth_on_publish')]), [], 'decided by the module');
      await pub.publishAsync(`${topic}/plain`, 'passed on', { qos: 1 });
      assert.equal((await nextMessage(sub)).topic, `${topic}/plain`);
      await recorder.waitFor(m5('auth_on_publish'), pub.clientId);
    });
  }
  test('5.0: a module on_auth_m5 answering with a promise runs the exchange in the worker: continue, success, then a re-authentication', async () => {
    const clientId = uniqueId('modauth');
    const raw = await RawClient.connect(b.port, 5);
    const auth = (reasonCode: number, data: string): Parameters<RawClient['send']>[0] => ({
      cmd: 'auth',
      reasonCode,
      properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from(data) },
    });
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 0,
      clientId,
      properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('hello') },
    });
    assert.equal((await raw.expectPacket('auth')).properties?.authenticationData?.toString(), 'challenge');
    raw.send(auth(0x18, 'response'));
    const connack = await raw.expectPacket('connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationData?.toString(), 'welcome');
    raw.send(auth(0x19, 'hello'));
    assert.equal((await raw.expectPacket('auth')).reasonCode, 0x18);
    raw.send(auth(0x18, 'response'));
    assert.equal((await raw.expectPacket('auth')).reasonCode, 0x00);
    await reports.waitFor(forClient(clientId, 'on_auth_m5'), 'on_auth_m5 in the module');
    assert.deepEqual(recorder.sequence(clientId, ['on_auth_m5']), [], 'decided by the module');
  });
});

describe('a module plugin that fails to load', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: listen() rejects with the error`, async () => {
      const broker = createBroker({ host: '127.0.0.1', port: 0, workers, logLevel: 'silent', plugins: [BROKEN] });
      try {
        await assert.rejects(broker.listen(), /this plugin cannot start/);
      } finally {
        await broker.close();
      }
    });
  }

  test('a missing module path rejects too', async () => {
    const broker = createBroker({ host: '127.0.0.1', port: 0, workers: 0, logLevel: 'silent', plugins: ['./no/such/plugin.js'] });
    try {
      await assert.rejects(broker.listen());
    } finally {
      await broker.close();
    }
  });
});
