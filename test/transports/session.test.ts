/**
 * Sessions across transports: a persistent session made over TCP and
 * resumed over WebSocket (and the other way round) keeps its subscriptions
 * and the QoS 1 messages queued while it was offline; a CONNECT over another
 * transport takes the session over and disconnects the old transport.
 * MQTT 3.1.1 and 5.0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions } from 'mqtt';
import type { Broker } from '../../src/main/broker.js';
import { closeBroker, connect, next, startBroker, uniqueTopic, urlOf, within, type Transport } from './helpers.js';

const VERSIONS = [4, 5] as const;
const PAIRS: Array<[Transport, Transport]> = [
  ['tcp', 'ws'],
  ['ws', 'tcp'],
];

function persistent(clientId: string, version: 4 | 5): IClientOptions {
  return version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 300 } } : { clientId, clean: false };
}

/** Resolves when the broker reports `clientId` disconnected. */
function disconnected(broker: Broker, clientId: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const listener = (id: string): void => {
        if (id !== clientId) return;
        broker.off('client-disconnected', listener);
        resolve();
      };
      broker.on('client-disconnected', listener);
    }),
    `client-disconnected of ${clientId}`,
  );
}

describe('sessions across transports', () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker({ wsPort: 0 });
  });
  after(async () => {
    await closeBroker(broker);
  });

  for (const version of VERSIONS) {
    for (const [from, to] of PAIRS) {
      it(`a persistent session made over ${from} resumes over ${to} with its subscription and queued QoS 1 messages (MQTT v${version})`, async () => {
        const clientId = `resume-${from}-${to}-v${version}`;
        const topic = uniqueTopic(`resume/${from}-${to}/v${version}`);
        const first = await connect(urlOf(broker, from), version, persistent(clientId, version));
        assert.equal(first.sessionPresent, false);
        await within(first.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK');
        const offline = disconnected(broker, clientId);
        await first.end();
        await offline;

        const publisher = await connect(urlOf(broker, 'tcp'), version);
        try {
          await within(publisher.client.publishAsync(topic, 'queued 1', { qos: 1 }), 'PUBACK 1');
          await within(publisher.client.publishAsync(topic, 'queued 2', { qos: 1 }), 'PUBACK 2');

          const resumed = await connect(urlOf(broker, to), version, persistent(clientId, version));
          try {
            assert.equal(resumed.sessionPresent, true);
            const [m1, m2] = [await resumed.message(1), await resumed.message(2)];
            assert.deepEqual([m1.payload.toString(), m2.payload.toString()], ['queued 1', 'queued 2']);
            assert.deepEqual([m1.qos, m2.qos], [1, 1]);
            // The subscription is still there, without subscribing again.
            await within(publisher.client.publishAsync(topic, 'live', { qos: 1 }), 'PUBACK live');
            assert.equal((await resumed.message(3)).payload.toString(), 'live');
          } finally {
            await resumed.end();
          }
        } finally {
          await publisher.end();
        }
      });

      it(`a CONNECT over ${to} takes over the session of a client on ${from} and disconnects it (MQTT v${version})`, async () => {
        const clientId = `takeover-${from}-${to}-v${version}`;
        const topic = uniqueTopic(`takeover/${from}-${to}/v${version}`);
        const old = await connect(urlOf(broker, from), version, { clientId });
        const disconnectPackets: number[] = [];
        old.client.on('disconnect', (packet) => disconnectPackets.push(packet.reasonCode ?? 0));
        const oldClosed = next(old.client, 'close', `close of the ${from} client`);
        const taker = await connect(urlOf(broker, to), version, { clientId });
        try {
          await oldClosed;
          if (version === 5) assert.deepEqual(disconnectPackets, [0x8e], 'DISCONNECT Session taken over');
          await within(taker.client.subscribeAsync(topic, { qos: 1 }), 'SUBACK');
          await within(taker.client.publishAsync(topic, 'still here', { qos: 1 }), 'PUBACK');
          assert.equal((await taker.message(1)).payload.toString(), 'still here');
          assert.equal(old.client.connected, false);
        } finally {
          await Promise.all([taker.end(), old.end()]);
        }
      });
    }
  }
});
