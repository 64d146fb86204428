/**
 * An actor host with a session store, driven in-process with the frames the
 * main thread would send (open, packet) over an in-thread endpoint pair: the
 * host saves a persistent session when its subscriptions change and when it
 * goes offline (committed once per turn), removes it when a clean start ends
 * it, and a fresh host on the same store takes it back at start, subscribing
 * it again with the router. Socket-level restore: test/integration/session-store.test.ts.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { startFrameHost, type FrameHost } from '../helpers/frame-host.js';
import { MemorySessionStore, type SessionRecord } from '../../workers/session/session-store.js';

const running: FrameHost[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

function startHost(store: MemorySessionStore): FrameHost {
  const h = startFrameHost({ plugins: { modules: [], store } });
  running.push(h);
  return h;
}

function connect(clientId: string, clean: boolean, sessionExpiryInterval: number): mqttPacket.IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean, keepalive: 0, properties: { sessionExpiryInterval } };
}

/** The store's committed record of `clientId`, once `ready` holds for it (the host commits once per turn). */
async function committed(
  store: MemorySessionStore,
  clientId: string,
  ready: (r: SessionRecord | undefined) => boolean,
): Promise<SessionRecord | undefined> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const record = store.load().find((r) => r.clientId === clientId);
    if (ready(record)) return record;
    if (Date.now() > deadline) throw new Error(`the store's record of ${clientId} did not change as expected`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('an actor host with a session store', () => {
  test('[MQTT-3.1.2-23] saves a persistent session on SUBSCRIBE and DISCONNECT, and a fresh host on the same store takes it back', async () => {
    const store = new MemorySessionStore();
    const first = startHost(store);
    first.open(1, connect('kept', false, 300));
    const connack = (await first.next(1)) as mqttPacket.IConnackPacket;
    assert.equal(connack.reasonCode, 0);
    first.packet(1, {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: 'a/+', qos: 1 }],
      properties: { subscriptionIdentifier: 3 },
    });
    assert.equal(((await first.next(1)) as mqttPacket.Packet).cmd, 'suback');
    const subscribed = await committed(store, 'kept', (r) => r !== undefined);
    assert.deepEqual(
      subscribed?.subscriptions.map((s) => [s.filter, s.qos, s.subscriptionId]),
      [['a/+', 1, 3]],
    );
    assert.equal(subscribed?.sessionExpiry, 300);

    first.packet(1, { cmd: 'disconnect', reasonCode: 0 });
    const offline = await committed(store, 'kept', (r) => r !== undefined && r.expiresAt !== subscribed?.expiresAt);
    assert.ok(
      offline!.expiresAt! > Date.now() && offline!.expiresAt! <= Date.now() + 300_000,
      'the deadline is the Session Expiry Interval from the disconnect',
    );
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const second = startHost(store);
    const [restored] = await second.host.control.sessions();
    assert.deepEqual(restored, offline, 'the fresh host holds the stored session as it was');
    await new Promise((resolve) => setImmediate(resolve)); // the host's outbox flushes once per turn
    const routed = second.frames.filter((f) => f.kind === 'subscribe');
    assert.deepEqual(
      routed.map((f) => f.kind === 'subscribe' && [f.filter, f.qos, f.subscriptionId, f.sendRetained]),
      [['a/+', 1, 3, false]],
      'its subscription goes to the router again, without retained messages',
    );
    second.open(2, connect('kept', false, 300));
    const resumed = (await second.next(2)) as mqttPacket.IConnackPacket;
    assert.equal(resumed.sessionPresent, true, '[MQTT-3.2.2-2] session present');
  });

  test('[MQTT-3.1.2-4] a clean start removes the stored session', async () => {
    const store = new MemorySessionStore();
    const host = startHost(store);
    host.open(1, connect('gone', false, 300));
    await host.next(1);
    host.packet(1, { cmd: 'disconnect', reasonCode: 0 });
    await committed(store, 'gone', (r) => r !== undefined);
    host.open(2, connect('gone', true, 0));
    const connack = (await host.next(2)) as mqttPacket.IConnackPacket;
    assert.equal(connack.sessionPresent, false);
    await committed(store, 'gone', (r) => r === undefined);
  });
});
