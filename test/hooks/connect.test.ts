/**
 * CONNECT hooks with an in-process plugin (broker.addPlugin), under MQTT
 * 3.1.1 and 5.0, with the actor hosts on the main thread (workers 0) and in
 * two workers (hookCall frames): auth_on_register(_m5) arguments and
 * answers, VerneMQ's order (auth_on_register → on_client_wakeup →
 * on_register → will auth_on_publish → CONNACK), the takeover order (the old
 * session's on_client_offline / on_client_gone before the new
 * on_client_wakeup), a chain answering asynchronously while the client's
 * next packets wait, on_auth_m5, and a hook that never answers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { Peer, SubscriberId } from '../../src/api/hooks.js';
import { startBroker } from '../helpers/broker.js';
import {
  connectClient,
  dropConnection,
  nextMessage,
  once,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type ConnectOptions,
  type Version,
} from '../helpers/clients.js';
import { closeAllRawClients, RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import { deferred, recordedBroker, Recorder, WORKER_COUNTS } from './support.js';

function code(version: Version, connack: IConnackPacket): number | undefined {
  return version === 5 ? connack.reasonCode : connack.returnCode;
}

function rawPersistent(version: Version): Partial<IConnectPacket> {
  return version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
}

for (const workers of WORKER_COUNTS) {
  for (const version of VERSIONS) {
    const m5 = (hook: string): string => (version === 5 ? `${hook}_m5` : hook);

    describe(`CONNECT hooks (${label(version)}, workers ${workers})`, () => {
      const { recorder, b } = recordedBroker({ workers });

      test(`${m5('auth_on_register')} gets (peer, subscriberId, username, password, clean${version === 5 ? ', properties' : ''}); then on_client_wakeup, ${m5('on_register')}, the will's ${m5('auth_on_publish')}, and CONNACK`, async () => {
        const clientId = uniqueId('reg');
        const will = { topic: uniqueTopic('will'), payload: Buffer.from('bye'), qos: 1 as const, retain: false };
        const client = await connectClient(b.port, {
          version,
          clientId,
          username: 'alice',
          password: 'secret',
          will,
          ...(version === 5 ? { properties: { sessionExpiryInterval: 0, userProperties: { app: 'test' } } } : {}),
        });
        recorder.mark('connack', clientId);
        assert.deepEqual(recorder.sequence(clientId), [
          m5('auth_on_register'),
          'on_client_wakeup',
          m5('on_register'),
          m5('auth_on_publish'),
          'mark:connack',
        ]);
        const [reg] = recorder.of(clientId);
        const [peer, sid, username, password, clean, props] = reg?.args ?? [];
        assert.equal((peer as Peer).address, '127.0.0.1');
        assert.equal(typeof (peer as Peer).port, 'number');
        assert.deepEqual(sid, { mountpoint: '', clientId });
        assert.equal(username, 'alice');
        assert.ok(Buffer.isBuffer(password));
        assert.equal((password as Buffer).toString(), 'secret');
        assert.equal(clean, true);
        if (version === 5) assert.deepEqual({ ...(props as { userProperties?: object }).userProperties }, { app: 'test' });
        else assert.equal(reg?.args.length, 5);
        const onRegister = await recorder.waitFor(m5('on_register'), clientId);
        assert.equal(onRegister.args[2], 'alice');
        const willAuth = await recorder.waitFor(m5('auth_on_publish'), clientId);
        assert.deepEqual(
          willAuth.args.slice(0, 6).map((a) => (Buffer.isBuffer(a) ? a.toString() : a)),
          ['alice', { mountpoint: '', clientId }, 1, will.topic, 'bye', false],
        );
        await client.endAsync();
      });

      test('without a will there is no auth_on_publish at CONNECT; without a password the argument is undefined', async () => {
        const clientId = uniqueId('nowill');
        const raw = await RawClient.connect(b.port, version);
        const connack = await raw.handshake({ clientId, username: 'bob' });
        assert.equal(code(version, connack), 0);
        recorder.mark('connack', clientId);
        assert.deepEqual(recorder.sequence(clientId), [m5('auth_on_register'), 'on_client_wakeup', m5('on_register'), 'mark:connack']);
        const reg = await recorder.waitFor(m5('auth_on_register'), clientId);
        assert.equal(reg.args[2], 'bob');
        assert.equal(reg.args[3], undefined);
      });

      test(`${m5('auth_on_register')} { error: 'invalid_credentials' } refuses with bad user name or password; other errors with not authorized; nothing else runs`, async () => {
        recorder.answerBoth('auth_on_register', (_peer, _sid, username) => ({
          error: username === 'wrong' ? 'invalid_credentials' : 'banned_user',
        }));
        const first = uniqueId('deny');
        const raw1 = await RawClient.connect(b.port, version);
        const c1 = await raw1.handshake({ clientId: first, username: 'wrong', password: Buffer.from('x') });
        assert.equal(code(version, c1), version === 5 ? 0x86 : 4);
        await raw1.expectClose();
        const second = uniqueId('deny');
        const raw2 = await RawClient.connect(b.port, version);
        const c2 = await raw2.handshake({ clientId: second, username: 'other' });
        assert.equal(code(version, c2), version === 5 ? 0x87 : 5);
        await raw2.expectClose();
        assert.deepEqual(recorder.sequence(first), [m5('auth_on_register')]);
        assert.deepEqual(recorder.sequence(second), [m5('auth_on_register')]);
      });

      test('a plugin that throws refuses the client (not authorized) and the broker keeps serving', async () => {
        recorder.answerBoth('auth_on_register', (_p, sid) => {
          if (sid.clientId.startsWith('throw')) throw new Error('plugin bug');
          return 'ok';
        });
        const raw = await RawClient.connect(b.port, version);
        const refused = await raw.handshake({ clientId: uniqueId('throw') });
        assert.equal(code(version, refused), version === 5 ? 0x87 : 5);
        const fine = await RawClient.connect(b.port, version);
        assert.equal(code(version, await fine.handshake({ clientId: uniqueId('fine') })), 0);
      });

      test('every plugin answering next exhausts the chain: accepted because allowAnonymous is on', async () => {
        recorder.answerBoth('auth_on_register', () => 'next');
        const raw = await RawClient.connect(b.port, version);
        assert.equal(code(version, await raw.handshake({ clientId: uniqueId('next') })), 0);
      });

      test("the will's auth_on_publish refusing gives CONNACK not authorized; its modifiers apply to the will", async () => {
        const refusedId = uniqueId('willno');
        recorder.answerBoth('auth_on_publish', (_u, _sid, _qos, topic) =>
          topic.startsWith('forbidden/') ? { error: 'no' } : { ok: { topic: `${topic}/rewritten` } },
        );
        const raw = await RawClient.connect(b.port, version);
        const refused = await raw.handshake({
          clientId: refusedId,
          will: { topic: 'forbidden/will', payload: Buffer.from('x'), qos: 0, retain: false },
        });
        assert.equal(code(version, refused), version === 5 ? 0x87 : 5);
        await raw.expectClose();

        const topic = uniqueTopic('will');
        const watcher = await connectClient(b.port, { version });
        await watcher.subscribeAsync(`${topic}/rewritten`, { qos: 1 });
        const clientId = uniqueId('willok');
        const dying = await connectClient(b.port, {
          version,
          clientId,
          will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false },
        });
        dropConnection(dying);
        const m = await nextMessage(watcher);
        assert.equal(m.topic, `${topic}/rewritten`);
        assert.equal(m.payload.toString(), 'gone');
      });

      /** Connects `clientId` twice with `options`; checks the second CONNACK's session present flag and the hooks the takeover ran, in order. */
      async function assertTakeover(
        prefix: string,
        options: Partial<ConnectOptions>,
        sessionPresent: boolean,
        oldSessionHook: string,
      ): Promise<void> {
        const clientId = uniqueId(prefix);
        const first = await connectClient(b.port, { version, clientId, ...options });
        const before = recorder.of(clientId).length;
        const second = await connectClient(b.port, { version, clientId, ...options });
        recorder.mark('connack', clientId);
        assert.equal(second.connack.sessionPresent, sessionPresent);
        assert.deepEqual(recorder.sequence(clientId).slice(before), [
          m5('auth_on_register'),
          oldSessionHook,
          'on_client_wakeup',
          m5('on_register'),
          'mark:connack',
        ]);
        first.end(true);
      }

      test("takeover of a persistent session: the old session's on_client_offline, then the new on_client_wakeup, on_register, CONNACK", async () => {
        await assertTakeover('takep', persistent(version), true, 'on_client_offline');
      });

      test("takeover of a clean session: the old session's on_client_gone, then the new on_client_wakeup", async () => {
        await assertTakeover('takec', { clean: true }, false, 'on_client_gone');
      });

      test('an asynchronous auth_on_register holds the packets the client sent after CONNECT, then handles them in order', async () => {
        const clientId = uniqueId('async');
        const gate = deferred();
        recorder.answerBoth('auth_on_register', async (_p, sid: SubscriberId) => {
          if (sid.clientId === clientId) await gate.promise;
          return 'ok';
        });
        const topic = uniqueTopic('held');
        const raw = await RawClient.connect(b.port, version);
        const connect: IConnectPacket = {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: version,
          clean: true,
          keepalive: 0,
          clientId,
          ...rawPersistent(version),
        };
        raw.send(connect);
        raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic, qos: 1 }] });
        raw.send({ cmd: 'publish', topic, payload: Buffer.from('own'), qos: 1, messageId: 8, retain: false, dup: false });
        raw.send({ cmd: 'pingreq' });
        await recorder.waitFor(m5('auth_on_register'), clientId);
        assert.deepEqual(raw.unread(), [], 'nothing is answered before the plugin does');
        gate.resolve();
        assert.equal(code(version, await raw.expectPacket('connack')), 0);
        assert.deepEqual((await raw.expectPacket('suback')).granted, [1]);
        const delivered = await raw.waitForPacket('publish');
        assert.equal(delivered.payload.toString(), 'own');
        await raw.waitForPacket('puback');
        await raw.waitForPacket('pingresp');
        const order = raw.received.map((p) => p.cmd).filter((cmd) => cmd !== 'publish');
        assert.deepEqual(order, ['connack', 'suback', 'puback', 'pingresp']);
        assert.deepEqual(
          recorder.sequence(clientId, [m5('auth_on_register'), 'on_client_wakeup', m5('auth_on_subscribe'), m5('auth_on_publish')]),
          [m5('auth_on_register'), 'on_client_wakeup', m5('auth_on_subscribe'), m5('auth_on_publish')],
        );
      });

      test('a connection that closes while auth_on_register is pending is never registered', async () => {
        const clientId = uniqueId('gone');
        const gates = [deferred(), deferred()];
        let calls = 0;
        recorder.answerBoth('auth_on_register', async (_p, sid: SubscriberId) => {
          if (sid.clientId === clientId) await (gates[calls++] as { promise: Promise<void> }).promise;
          return 'ok';
        });
        const raw = await RawClient.connect(b.port, version);
        raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId });
        await recorder.waitFor(m5('auth_on_register'), clientId);
        const idle = once(b.broker, 'idle');
        await raw.destroy();
        await idle;
        // The same client id lands on the same host, after the close: its auth_on_register call proves the close was seen.
        const again = await RawClient.connect(b.port, version);
        again.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId });
        await recorder.waitFor(m5('auth_on_register'), clientId, (c) => c !== recorder.of(clientId)[0]);
        gates[0]?.resolve();
        gates[1]?.resolve();
        assert.equal(code(version, await again.expectPacket('connack')), 0);
        recorder.mark('connack', clientId);
        assert.deepEqual(
          recorder.sequence(clientId),
          [m5('auth_on_register'), m5('auth_on_register'), 'on_client_wakeup', m5('on_register'), 'mark:connack'],
          'the closed connection got no on_client_wakeup or on_register, and took nothing over',
        );
      });
    });
  }
}

describe('allowAnonymous off with plugins', () => {
  for (const version of VERSIONS) {
    test(`${label(version)}: a chain where every plugin says next is refused; a plugin without auth_on_register does not let anyone in; ok does`, async () => {
      const recorder = new Recorder();
      recorder.answer('auth_on_register', (_p, _sid, username) => (username === 'known' ? 'ok' : 'next'));
      recorder.answer('auth_on_register_m5', (_p, _sid, username) => (username === 'known' ? 'ok' : 'next'));
      const b = await startBroker({ workers: 0, allowAnonymous: false }, { plugins: [recorder.plugin] });
      try {
        const unknown = await RawClient.connect(b.port, version);
        assert.equal(code(version, await unknown.handshake({ username: 'stranger' })), version === 5 ? 0x87 : 5);
        const known = await RawClient.connect(b.port, version);
        assert.equal(code(version, await known.handshake({ username: 'known' })), 0);
      } finally {
        await closeAllRawClients();
        await b.close();
      }
    });
  }

  test('with allowAnonymous off and plugins lacking auth_on_register, clients are refused', async () => {
    const b = await startBroker({ workers: 0, allowAnonymous: false }, { plugins: [{ on_register() {} }] });
    try {
      const raw = await RawClient.connect(b.port, 4);
      assert.equal((await raw.handshake({})).returnCode, 5);
    } finally {
      await closeAllRawClients();
      await b.close();
    }
  });
});

describe("5.0 refusals carry the plugin's reason code", () => {
  test('{ error: { reasonCode, reasonString, serverReference } } is the CONNACK', async () => {
    const b = await startBroker(
      { workers: 0 },
      {
        plugins: [
          {
            auth_on_register_m5: (_p, _sid, username) =>
              username === 'moved'
                ? { error: { reasonCode: 0x9d, reasonString: 'go there', serverReference: 'other.example:1883' } }
                : { error: { reasonCode: 0x8a } },
          },
        ],
      },
    );
    try {
      const moved = await RawClient.connect(b.port, 5);
      const c1 = await moved.handshake({ username: 'moved' });
      assert.equal(c1.reasonCode, 0x9d);
      assert.equal(c1.properties?.reasonString, 'go there');
      assert.equal(c1.properties?.serverReference, 'other.example:1883');
      const banned = await RawClient.connect(b.port, 5);
      assert.equal((await banned.handshake({ username: 'x' })).reasonCode, 0x8a);
    } finally {
      await closeAllRawClients();
      await b.close();
    }
  });
});

describe('on_auth_m5 (enhanced authentication)', () => {
  test('workers 0: an on_auth_m5 refusal with a Server Reference is the CONNACK 0x9C with it (§4.11)', async () => {
    const recorder = new Recorder();
    recorder.answer('on_auth_m5', () => ({ error: { reasonCode: 0x9c, reasonString: 'busy', serverReference: 'b.example:1883' } }));
    const b = await startBroker({ workers: 0 }, { plugins: [recorder.plugin] });
    try {
      const raw = await RawClient.connect(b.port, 5);
      const connack = await raw.handshake({
        clientId: uniqueId('authref'),
        properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('x') },
      });
      assert.equal(connack.reasonCode, 0x9c);
      assert.equal(connack.properties?.reasonString, 'busy');
      assert.equal(connack.properties?.serverReference, 'b.example:1883');
    } finally {
      await closeAllRawClients();
      await b.close();
    }
  });

  test('workers 0: each AUTH step asks on_auth_m5 (continue, then success), then auth_on_register_m5 runs, then CONNACK with the method', async () => {
    const recorder = new Recorder();
    recorder.answer('on_auth_m5', (_u, _sid, auth) =>
      auth.data?.toString() === 'hello'
        ? { ok: { reason_code: 'continue_authentication', auth_data: Buffer.from('challenge') } }
        : auth.data?.toString() === 'response'
          ? { ok: { auth_data: Buffer.from('welcome') } }
          : { error: { reasonCode: 0x87 } },
    );
    const b = await startBroker({ workers: 0 }, { plugins: [recorder.plugin] });
    try {
      const clientId = uniqueId('auth');
      const raw = await RawClient.connect(b.port, 5);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepalive: 0,
        clientId,
        properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('hello') },
      });
      const challenge = await raw.expectPacket('auth');
      assert.equal(challenge.reasonCode, 0x18);
      assert.equal(challenge.properties?.authenticationData?.toString(), 'challenge');
      raw.send({
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('response') },
      });
      const connack = await raw.expectPacket('connack');
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.properties?.authenticationMethod, 'TOKEN');
      assert.equal(connack.properties?.authenticationData?.toString(), 'welcome');
      assert.deepEqual(recorder.sequence(clientId, ['on_auth_m5', 'auth_on_register_m5', 'on_register_m5']), [
        'on_auth_m5',
        'on_auth_m5',
        'auth_on_register_m5',
        'on_register_m5',
      ]);
      const first = recorder.of(clientId)[0];
      assert.deepEqual(first?.args[2], { method: 'TOKEN', data: Buffer.from('hello') });
    } finally {
      await closeAllRawClients();
      await b.close();
    }
  });

  test("workers 0: on_auth_m5 runs before the client id check (VerneMQ's order): an over-long client id is refused with 0x85 after a successful exchange, auth_on_register_m5 never asked", async () => {
    const recorder = new Recorder();
    recorder.answer('on_auth_m5', () => ({ ok: {} }));
    const b = await startBroker({ workers: 0 }, { plugins: [recorder.plugin] });
    try {
      const clientId = `${uniqueId('authlong')}-${'x'.repeat(100)}`;
      const raw = await RawClient.connect(b.port, 5);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepalive: 0,
        clientId,
        properties: { authenticationMethod: 'TOKEN' },
      });
      const connack = await raw.expectPacket('connack');
      assert.equal(connack.reasonCode, 0x85);
      assert.deepEqual(recorder.sequence(clientId, ['on_auth_m5', 'auth_on_register_m5']), ['on_auth_m5']);
    } finally {
      await closeAllRawClients();
      await b.close();
    }
  });

  for (const workers of [0, 1]) {
    test(`workers ${workers}: an on_auth_m5 answering with a promise decides each step when it settles (continue, success, CONNACK), and a re-authentication`, async () => {
      const recorder = new Recorder();
      recorder.answer('on_auth_m5', async (_u, _sid, auth) => {
        await new Promise((resolve) => setImmediate(resolve));
        const text = auth.data?.toString();
        if (text === 'hello') return { ok: { reason_code: 'continue_authentication', auth_data: Buffer.from('challenge') } };
        return text === 'response'
          ? { ok: { auth_data: Buffer.from('welcome') } }
          : { error: { reasonCode: 0x87, reasonString: 'wrong token' } };
      });
      const b = await startBroker({ workers }, { plugins: [recorder.plugin] });
      try {
        const clientId = uniqueId('authasync');
        const raw = await RawClient.connect(b.port, 5);
        raw.send({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clean: true,
          keepalive: 0,
          clientId,
          properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('hello') },
        });
        const challenge = await raw.expectPacket('auth');
        assert.equal(challenge.reasonCode, 0x18, '[MQTT-4.12.0-2]');
        assert.equal(challenge.properties?.authenticationData?.toString(), 'challenge');
        raw.send({
          cmd: 'auth',
          reasonCode: 0x18,
          properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('response') },
        });
        const connack = await raw.expectPacket('connack');
        assert.equal(connack.reasonCode, 0);
        assert.equal(connack.properties?.authenticationMethod, 'TOKEN', '[MQTT-4.12.0-5]');
        assert.equal(connack.properties?.authenticationData?.toString(), 'welcome');

        raw.send({
          cmd: 'auth',
          reasonCode: 0x19,
          properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('hello') },
        });
        raw.send({ cmd: 'pingreq' });
        await raw.waitForPacket('pingresp');
        assert.equal((await raw.waitForPacket('auth')).reasonCode, 0x18);
        raw.send({
          cmd: 'auth',
          reasonCode: 0x18,
          properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('response') },
        });
        const done = await raw.expectPacket('auth');
        assert.equal(done.reasonCode, 0x00, '[MQTT-4.12.1-1] re-authentication succeeded');
        assert.equal(recorder.sequence(clientId, ['on_auth_m5']).length, 4);

        raw.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('nope') } });
        const disconnect = await raw.expectPacket('disconnect');
        assert.equal(disconnect.reasonCode, 0x87, '[MQTT-4.12.1-2] a failed re-authentication disconnects');
        assert.equal(disconnect.properties?.reasonString, 'wrong token');
      } finally {
        await closeAllRawClients();
        await b.close();
      }
    });
  }
});

describe('a hook that never answers', () => {
  for (const workers of WORKER_COUNTS) {
    test(`workers ${workers}: counts as an error after pluginTimeoutMs (the CONNECT is refused)`, async () => {
      const b = await startBroker({ workers, pluginTimeoutMs: 200 }, { plugins: [{ auth_on_register: () => new Promise(() => {}) }] });
      try {
        const raw = await RawClient.connect(b.port, 4);
        assert.equal((await raw.handshake({})).returnCode, 5);
      } finally {
        await closeAllRawClients();
        await b.close();
      }
    });
  }
});
