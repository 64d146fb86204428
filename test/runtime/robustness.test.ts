/**
 * A session runtime that fails (the faulty fixture) never takes the broker
 * or its other sessions down: a callback that throws, rejects or does not
 * answer within pluginTimeoutMs gets the safe answer (CONNACK 0x80 / 3.1.1
 * rc 3, a failed enhanced authentication, a refused retained message, an
 * invalid packet, the old user context, the negotiated expiry, a minimal
 * user context), and with `workers: 0` nothing reaches the process as an
 * uncaught exception or an unhandled rejection. Also: a late
 * control_message answer does not reach a newer connection, two concurrent
 * CONNECTs cannot both pass the ownership check of connect, and a CONNECT
 * refused after connect accepted leaves the session's user context alone.
 * Hosts on the main thread and in a worker.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  nextMessage,
  pendingMessages,
  persistent,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  WAIT_MS,
  withBound,
  type ConnectOptions,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { Recorder } from '../hooks/support.js';
import { RawClient } from '../helpers/raw-client.js';
import { FAULTY_RUNTIME_FIXTURE, RuntimeCalls, WORKER_COUNTS } from './support.js';

const label = (v: Version): string => (v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');
const FAULTS = ['throws', 'rejects', 'hangs'] as const;
const TIMEOUT_MS = 300;
const ctxOf = (args: unknown[], i: number): { clientId?: string; opts?: { transport?: string } } =>
  (args[i] ?? {}) as { clientId?: string };

/** The code a refused CONNECT got (mqtt.js rejects with it), or the failure when there was none. */
async function refusal(port: number, opts: ConnectOptions): Promise<number | string> {
  try {
    const client = await connectClient(port, opts);
    await closeClient(client);
    return 'accepted';
  } catch (err) {
    return (err as { code?: number }).code ?? (err as Error).message;
  }
}

/** The reason code of a QoS 1 PUBLISH's PUBACK (mqtt.js rejects a failure code on 5.0). */
async function pubackCode(client: TestClient, topic: string): Promise<number> {
  try {
    const ack = await withBound(client.publishAsync(topic, 'x', { qos: 1 }), WAIT_MS, `PUBACK of ${topic}`);
    return (ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** The client still gets its own messages: its session and its host are alive. */
async function echoes(client: TestClient): Promise<void> {
  const topic = uniqueTopic('echo');
  await withBound(client.subscribeAsync(topic, { qos: 1 }), WAIT_MS, 'SUBACK');
  await withBound(client.publishAsync(topic, 'ping', { qos: 1 }), WAIT_MS, 'PUBACK');
  await nextMessage(client, (m) => m.topic === topic);
}

for (const workers of WORKER_COUNTS) {
  describe(`a failing session runtime (workers: ${workers})`, () => {
    let calls: RuntimeCalls;
    before(() => {
      calls = new RuntimeCalls();
    });
    const tb = brokerForSuite({ workers, runtime: FAULTY_RUNTIME_FIXTURE, pluginTimeoutMs: TIMEOUT_MS, wsPort: 0 });
    after(() => calls.close());
    // A failure the host let through reaches this process with `workers: 0`.
    const crashes: unknown[] = [];
    const crashed = (err: unknown): void => {
      crashes.push(err);
    };
    before(() => {
      process.on('uncaughtException', crashed);
      process.on('unhandledRejection', crashed);
    });
    after(() => {
      process.off('uncaughtException', crashed);
      process.off('unhandledRejection', crashed);
    });
    afterEach(() => assert.deepEqual(crashes.splice(0), []));

    for (const version of VERSIONS) {
      for (const fault of FAULTS) {
        test(`${label(version)}: connect that ${fault} refuses the CONNECT with ${version === 5 ? '0x80' : 'rc 3'}`, async () => {
          assert.equal(await refusal(tb.port, { version, username: fault }), version === 5 ? 0x80 : 3);
          await echoes(await connectClient(tb.port, { version }));
        });
      }
    }

    test('MQTT 5.0: new_user_context that throws when an AUTH completes the CONNECT gives a minimal user context', async () => {
      const raw = await RawClient.connect(tb.port, 5);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepalive: 0,
        clientId: uniqueId('nuc-throws'),
        properties: { authenticationMethod: 'rt-method', authenticationData: Buffer.from('step') },
      });
      const challenge = (await raw.expectPacket('auth')) as { reasonCode?: number };
      assert.equal(challenge.reasonCode, 0x18);
      raw.send({
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'rt-method', authenticationData: Buffer.from('good') },
      });
      const connack = await raw.expectPacket('connack');
      assert.equal(connack.reasonCode, 0);
      raw.send({ cmd: 'pingreq' });
      await raw.expectPacket('pingresp');
    });

    test('MQTT 5.0: reauth that does not answer fails the authentication with 0x80', async () => {
      const raw = await RawClient.connect(tb.port, 5);
      const connack = await raw.handshake({ properties: { authenticationMethod: 'rt-method', authenticationData: Buffer.from('hangs') } });
      assert.equal(connack.reasonCode, 0x80);
    });

    for (const fault of ['throws', 'rejects'] as const) {
      test(`MQTT 5.0: is_allowed that ${fault} for a retained message sent on subscribe drops that message only`, async () => {
        const topic = uniqueTopic(fault);
        const marker = uniqueTopic('marker');
        await tb.broker.publish({ topic, payload: Buffer.from('r'), qos: 0, retain: true });
        await tb.broker.publish({ topic: marker, payload: Buffer.from('m'), qos: 0, retain: true });
        const client = await connectClient(tb.port, { version: 5 });
        await client.subscribeAsync(topic, { qos: 1 });
        await client.subscribeAsync(marker, { qos: 1 });
        await nextMessage(client, (m) => m.topic === marker);
        await echoes(client);
        assert.deepEqual(
          pendingMessages(client).filter((m) => m.topic === topic),
          [],
        );
      });
    }

    for (const fault of FAULTS) {
      test(`MQTT 5.0: is_allowed of a PUBLISH that ${fault} refuses it with 0x87`, async () => {
        const client = await connectClient(tb.port, { version: 5 });
        assert.equal(await pubackCode(client, uniqueTopic(fault)), 0x87);
        await echoes(client);
      });

      test(`MQTT 5.0: is_valid_message that ${fault} closes the connection with DISCONNECT 0x82`, async () => {
        const raw = await RawClient.connect(tb.port, 5);
        assert.equal((await raw.handshake()).reasonCode, 0);
        raw.send({ cmd: 'publish', topic: uniqueTopic(`v${fault}`), payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
        const closed = await raw.expectClose();
        const disconnect = closed.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
        assert.equal(disconnect?.reasonCode, 0x82);
      });

      test(`MQTT 5.0: control_message that ${fault} keeps the user context and the connection`, async () => {
        const clientId = uniqueId('ctl');
        const client = await connectClient(tb.port, { version: 5, clientId });
        client.publish(`$client/${clientId}/lock`, 'x', { qos: 0 });
        client.publish(`$client/${clientId}/${fault}`, 'x', { qos: 0 });
        assert.equal(await pubackCode(client, uniqueTopic('after')), 0x87, 'the context locked before the failure stays');
        await echoes(await connectClient(tb.port, { version: 5 }));
      });
    }

    test("a control_message answer that comes after a takeover leaves the new connection's user context", async () => {
      const clientId = uniqueId('late');
      const first = await connectClient(tb.port, { version: 5, clientId, username: 'ann', ...persistent(5) });
      first.publish(`$client/${clientId}/lock-late`, 'x', { qos: 0 });
      await calls.waitFor('control_message', (a) => a[0] === 'lock-late' && ctxOf(a, 1).clientId === clientId);
      const second = await connectClient(tb.port, { version: 5, clientId, username: 'ann', ...persistent(5) });
      await calls.waitFor('control_message answered', (a) => a[0] === 'lock-late');
      assert.equal(await pubackCode(second, uniqueTopic('after')), 0);
    });

    for (const version of VERSIONS) {
      test(`${label(version)}: of two concurrent CONNECTs of one client id by different users, connect refuses the later one`, async () => {
        const clientId = uniqueId('race');
        const alice = connectClient(tb.port, { version, clientId, username: 'alice', ...persistent(version) });
        await calls.waitFor('connect', (a) => (a[0] as { clientId: string; username?: string }).clientId === clientId);
        assert.equal(await refusal(tb.port, { version, clientId, username: 'bob', ...persistent(version) }), version === 5 ? 0x87 : 5);
        const owner = await alice;
        assert.equal(owner.connected, true);
        await echoes(owner);
      });
    }

    test("a refused anonymous WebSocket CONNECT leaves an anonymous TCP session's user context", async () => {
      const clientId = uniqueId('anon');
      const isSession = (a: unknown[]): boolean => ctxOf(a, 0).clientId === clientId;
      await closeClient(await connectClient(tb.port, { version: 5, clientId, ...persistent(5) }));
      await calls.waitFor('is_websocket_origin', isSession);
      const wsPort = tb.broker.addresses().ws?.port as number;
      const will = { topic: uniqueTopic('denied'), payload: Buffer.from('w'), qos: 0 as const, retain: false };
      const ws: ConnectOptions = { version: 5, clientId, will, protocol: 'ws', path: tb.broker.config.wsPath, ...persistent(5) };
      assert.equal(await refusal(wsPort, ws), 0x87);
      const afterRefusal = await calls.waitFor('is_websocket_origin', isSession, undefined, 1);
      assert.equal(ctxOf(afterRefusal.args, 0).opts?.transport, 'tcp');
    });
  });

  describe(`session expiry with a failing session runtime (workers: ${workers})`, () => {
    const recorder = new Recorder();
    const tb = brokerForSuite({ workers, runtime: FAULTY_RUNTIME_FIXTURE }, { plugins: [recorder.plugin] });

    test('a session whose is_websocket_origin throws expires after its negotiated expiry', async () => {
      const clientId = uniqueId('exp-throws');
      await closeClient(await connectClient(tb.port, { version: 5, clientId, ...persistent(5, 1) }));
      await recorder.waitFor('on_session_expired', clientId);
      const again = await connectClient(tb.port, { version: 5, clientId, ...persistent(5) });
      assert.equal(again.connack.sessionPresent, false);
      await echoes(again);
    });
  });
}
