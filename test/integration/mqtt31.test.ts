/**
 * Integration: MQTT 3.1 ("MQIsdp", protocol level 3) clients are accepted
 * and exchange messages with 3.1.1 and 5.0 clients at every QoS.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions } from 'mqtt';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, uniqueId, uniqueTopic } from '../helpers/clients.js';

/** mqtt.js speaks 3.1 when asked for protocol id MQIsdp at level 3. */
const MQTT31 = { protocolId: 'MQIsdp', protocolVersion: 3 } as unknown as Partial<IClientOptions>;

const b = brokerForSuite({ workers: 1 });

describe('MQTT 3.1 (MQIsdp)', () => {
  test('a 3.1 CONNECT is accepted with return code 0', async () => {
    const c = await connectClient(b.port, { ...MQTT31, clientId: uniqueId('v31') });
    assert.equal(c.connack.returnCode, 0);
  });

  for (const qos of [0, 1, 2] as const) {
    test(`3.1 → 3.1.1 and 5.0 → 3.1 at QoS ${qos}`, async () => {
      const old = await connectClient(b.port, { ...MQTT31, clientId: uniqueId('v31') });
      const v4 = await connectClient(b.port, { version: 4 });
      const v5 = await connectClient(b.port, { version: 5 });
      const up = uniqueTopic('v31/up');
      const down = uniqueTopic('v31/down');
      await v4.subscribeAsync(up, { qos });
      await old.subscribeAsync(down, { qos });
      await old.publishAsync(up, 'from 3.1', { qos });
      await v5.publishAsync(down, 'to 3.1', { qos });
      const got4 = await nextMessage(v4, (m) => m.topic === up);
      const got31 = await nextMessage(old, (m) => m.topic === down);
      assert.equal(got4.payload.toString(), 'from 3.1');
      assert.equal(got4.packet.qos, qos);
      assert.equal(got31.payload.toString(), 'to 3.1');
      assert.equal(got31.packet.qos, qos);
    });
  }
});
