/**
 * broker.addPlugin after listen(), under MQTT 3.1.1 and 5.0, with the actor
 * hosts on the main thread and in two workers: a plugin added while a
 * publisher is connected decides its next publishes (refused: 5.0 PUBACK
 * 0x87, 3.1.1 acknowledged and dropped), and connections made after it see
 * it from their CONNECT on.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';
import type { Plugin } from '../../src/api/hooks.js';
import { WORKER_COUNTS } from './support.js';

for (const workers of WORKER_COUNTS) {
  for (const version of VERSIONS) {
    describe(`broker.addPlugin after listen() (${label(version)}, workers ${workers})`, () => {
      // A broker of its own: the plugin stays for the broker's life.
      const b = brokerForSuite({ workers });

      test('a plugin added while a publisher is connected refuses its next publish', async () => {
        const topic = uniqueTopic('late');
        const sub = await connectClient(b.port, { version });
        await sub.subscribeAsync(`${topic}/#`, { qos: 1 });
        const pub = await RawClient.connect(b.port, version);
        await pub.handshake({ clientId: uniqueId('late-pub') });
        pub.send({
          cmd: 'publish',
          topic: `${topic}/deny`,
          payload: Buffer.from('before'),
          qos: 1,
          messageId: 1,
          retain: false,
          dup: false,
        });
        assert.equal((await pub.expectPacket('puback')).reasonCode ?? 0, 0);
        assert.equal((await nextMessage(sub)).payload.toString(), 'before');

        const plugin: Plugin = {
          name: `late-${version}`,
          auth_on_publish: (_u, _sid, _qos, t) => (t === `${topic}/deny` ? { error: 'denied' } : 'ok'),
          auth_on_publish_m5: (_u, _sid, _qos, t) => (t === `${topic}/deny` ? { error: { reasonCode: 0x87 } } : 'ok'),
        };
        b.broker.addPlugin(plugin);
        pub.send({
          cmd: 'publish',
          topic: `${topic}/deny`,
          payload: Buffer.from('after'),
          qos: 1,
          messageId: 2,
          retain: false,
          dup: false,
        });
        pub.send({
          cmd: 'publish',
          topic: `${topic}/ok`,
          payload: Buffer.from('allowed'),
          qos: 1,
          messageId: 3,
          retain: false,
          dup: false,
        });
        const refused = await pub.expectPacket('puback');
        assert.equal(refused.messageId, 2);
        if (version === 5) assert.equal(refused.reasonCode, 0x87);
        assert.equal((await pub.expectPacket('puback')).messageId, 3);
        // The publisher's messages are routed in order: the first to arrive after the plugin is the allowed one.
        assert.equal((await nextMessage(sub)).payload.toString(), 'allowed');
        await pub.destroy();
      });
    });
  }
}
