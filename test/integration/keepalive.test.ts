/**
 * Integration: PINGREQ/PINGRESP and the server side of the keepalive (close
 * after 1.5 × Keep Alive of silence; 5.0 Server Keep Alive), under MQTT 3.1.1
 * and 5.0. One broker for the file (maxKeepalive 10).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, VERSIONS } from '../helpers/clients.js';
import { describe as describePacket, RawClient } from '../helpers/raw-client.js';
import { label, rule } from '../helpers/spec.js';

const MAX_KEEPALIVE = 10;

const b = brokerForSuite({ maxKeepalive: MAX_KEEPALIVE });

for (const version of VERSIONS) {
  describe(`keepalive (${label(version)})`, () => {
    test('[MQTT-3.12.4-1] PINGREQ gets PINGRESP', async () => {
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake({ keepalive: 30 });
      for (let i = 0; i < 3; i++) {
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp');
      }
    });

    test(`${rule(version, '3.1.2-24', '3.1.2-22')} a silent client with Keep Alive 1 is closed after 1.5 s${version === 5 ? ' (DISCONNECT 0x8D if any)' : ''}`, async () => {
      const raw = await RawClient.connect(b.port, version);
      const sentAt = Date.now();
      const connack = await raw.handshake({ keepalive: 1 });
      if (version === 5) {
        assert.equal(connack.properties?.serverKeepAlive ?? 1, 1, 'a Keep Alive under maxKeepalive is kept');
      }
      const { packets } = await raw.expectClose(6_000);
      const elapsed = Date.now() - sentAt;
      assert.ok(elapsed >= 1_450, `closed after ${elapsed} ms, before 1.5 × Keep Alive`);
      assert.ok(elapsed <= 3_000, `closed only after ${elapsed} ms`);
      for (const p of packets) {
        assert.equal(version, 5, `3.1.1 has no server DISCONNECT: ${describePacket(p)}`);
        assert.equal(p.cmd, 'disconnect', describePacket(p));
        assert.equal((p as mqttPacket.IDisconnectPacket).reasonCode, 0x8d);
        assert.equal(
          (p as mqttPacket.IDisconnectPacket).properties?.reasonString,
          'keepalive timeout',
          '[MQTT-3.14.2-3] with a Reason String',
        );
      }
    });

    test(`${rule(version, '3.1.2-24', '3.1.2-22')} a client that pings every 600 ms with Keep Alive 1 stays connected`, async () => {
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake({ keepalive: 1 });
      const until = Date.now() + 3_200;
      let pongs = 0;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 600));
        raw.send({ cmd: 'pingreq' });
        await raw.expectPacket('pingresp', 2_000);
        pongs++;
      }
      assert.equal(raw.closed, false);
      assert.ok(pongs >= 5);
    });

    test('other traffic than PINGREQ also keeps the connection alive', async () => {
      const raw = await RawClient.connect(b.port, version);
      await raw.handshake({ keepalive: 1 });
      const until = Date.now() + 2_500;
      let id = 1;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        raw.send({ cmd: 'publish', topic: 'ka/traffic', payload: Buffer.from('x'), qos: 1, messageId: id, retain: false, dup: false });
        assert.equal((await raw.expectPacket('puback', 2_000)).messageId, id);
        id++;
      }
      assert.equal(raw.closed, false);
    });

    test('mqtt.js with keepalive 1 stays connected through its own pings', async () => {
      const client = await connectClient(b.port, { version, keepalive: 1 });
      let closed = false;
      client.on('close', () => {
        closed = true;
      });
      await new Promise((r) => setTimeout(r, 2_200));
      assert.equal(closed, false);
      await client.publishAsync('ka/mqttjs', 'still-here', { qos: 1 });
    });

    if (version === 5) {
      test(`[MQTT-3.2.2-21] Keep Alive above maxKeepalive is answered with Server Keep Alive = ${MAX_KEEPALIVE}`, async () => {
        const raw = await RawClient.connect(b.port, 5);
        const connack = await raw.handshake({ keepalive: 60 });
        assert.equal(connack.reasonCode, 0);
        assert.equal(connack.properties?.serverKeepAlive, MAX_KEEPALIVE, describePacket(connack));
      });

      test(`Keep Alive 0 is answered with Server Keep Alive = maxKeepalive (config.maxKeepalive contract)`, async () => {
        const raw = await RawClient.connect(b.port, 5);
        const connack = await raw.handshake({ keepalive: 0 });
        assert.equal(connack.reasonCode, 0);
        assert.equal(connack.properties?.serverKeepAlive, MAX_KEEPALIVE, describePacket(connack));
      });
    }
  });
}
