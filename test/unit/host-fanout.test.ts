/**
 * An actor host fanning one message out (test/helpers/frame-host.ts drives a
 * real ActorHost with binary frames): the QoS 0 PUBLISHes that are the same
 * bytes leave as one `sendShared` frame with every connection id, a session
 * that needs its own encoding (a Subscription Identifier, QoS 1) gets its own
 * `send` frame, and a frame a session writes after a shared PUBLISH never
 * overtakes it.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import type { ToRouter } from '../../src/shared/channel/frames.js';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { startFrameHost, type FrameHost } from '../helpers/frame-host.js';

let host: FrameHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

/** Connects `connId` as a 5.0 client and subscribes it to `f/#`; answers its session's sid. */
async function subscriber(h: FrameHost, connId: number, qos: 0 | 1, subscriptionIdentifier?: number): Promise<number> {
  h.open(connId, { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: `fan-${connId}` });
  assert.equal(((await h.next(connId)) as mqttPacket.IConnackPacket).cmd, 'connack');
  h.packet(connId, {
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [{ topic: 'f/#', qos }],
    ...(subscriptionIdentifier === undefined ? {} : { properties: { subscriptionIdentifier } }),
  });
  assert.equal(((await h.next(connId)) as mqttPacket.ISubackPacket).cmd, 'suback');
  const frame = h.frames.findLast((f) => f.kind === 'subscribe');
  assert.ok(frame?.kind === 'subscribe');
  return frame.sid;
}

const message: AppMessage = { topic: 'f/a', payload: Buffer.from('shared'), qos: 1, retain: false };

/** The frames written towards connections after the first `from` frames. */
function connectionFrames(frames: ToRouter[], from: number): ToRouter[] {
  return frames.slice(from).filter((f) => f.kind === 'send' || f.kind === 'sendShared');
}

describe('an actor host fanning a message out', () => {
  test('identical QoS 0 PUBLISHes leave as one sendShared frame; a session with its own encoding gets its own send', async () => {
    host = startFrameHost();
    const plain = [await subscriber(host, 1, 0), await subscriber(host, 2, 0), await subscriber(host, 3, 0)];
    const withId = await subscriber(host, 4, 0, 9);
    const before = host.frames.length;
    host.deliver(
      message,
      [...plain, withId].map((sid) => ({ sid, qos: 0, retain: false, subscriptionIds: sid === withId ? [9] : [] })),
    );
    for (const connId of [1, 2, 3]) {
      const p = (await host.next(connId)) as mqttPacket.IPublishPacket;
      assert.equal(p.payload.toString(), 'shared');
      assert.equal(p.qos, 0);
      assert.equal(p.properties?.subscriptionIdentifier, undefined);
    }
    const own = (await host.next(4)) as mqttPacket.IPublishPacket;
    assert.equal(own.properties?.subscriptionIdentifier, 9);
    const frames = connectionFrames(host.frames, before);
    assert.deepEqual(
      frames.map((f) =>
        f.kind === 'sendShared' ? { kind: f.kind, connIds: f.connIds } : { kind: f.kind, connId: f.kind === 'send' && f.connId },
      ),
      [
        { kind: 'sendShared', connIds: [1, 2, 3] },
        { kind: 'send', connId: 4 },
      ],
      'one frame per encoding',
    );
  });

  test('a frame written while a message fans out lets the shared PUBLISHes out first, keeping each connection in order [MQTT-4.6.0-6]', async () => {
    host = startFrameHost();
    const first = await subscriber(host, 1, 0);
    const acked = await subscriber(host, 2, 1);
    const last = await subscriber(host, 3, 0);
    const before = host.frames.length;
    host.deliver(message, [
      { sid: first, qos: 0, retain: false, subscriptionIds: [] },
      { sid: acked, qos: 1, retain: false, subscriptionIds: [] },
      { sid: last, qos: 0, retain: false, subscriptionIds: [] },
    ]);
    for (const connId of [1, 2, 3]) assert.equal(((await host.next(connId)) as mqttPacket.IPublishPacket).payload.toString(), 'shared');
    const frames = connectionFrames(host.frames, before);
    assert.deepEqual(
      frames.map((f) => f.kind === 'send' && f.connId),
      [1, 2, 3],
      'the first QoS 0 PUBLISH left before the QoS 1 one, the last after it',
    );
  });
});
