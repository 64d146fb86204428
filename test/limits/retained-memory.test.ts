/**
 * Limit: maxRetainedMemory over real sockets, under MQTT 3.1.1 and 5.0.
 * Retained messages of 2,000 B are published to topics of one length, so
 * each counts the same (src/main/router/retained-store.ts: a fixed cost per entry,
 * 2 bytes per topic character, the payload); the cap holds four. Under it a
 * new subscriber gets every retained message [MQTT-3.3.1-6]; over it the
 * oldest are evicted and it gets only the newest four; an expired message
 * [MQTT-3.3.2-5] goes before the oldest.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { messageBytes } from '../../src/shared/message/message-bytes.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAllClients, connectClient, expectNoMessage, nextMessages, uniqueTopic, VERSIONS, type Version } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { waitUntil } from './support.js';

const PAYLOAD = 2000;
/** The retained store's estimated cost per entry beyond the message itself (ENTRY_OVERHEAD_BYTES). */
const ENTRY_OVERHEAD = 200;
const FIT = 4;
const EXPIRY_S = 1;

let b: TestBroker | undefined;
afterEach(async () => {
  await closeAllClients();
  await b?.close();
  b = undefined;
});

/** A broker whose maxRetainedMemory holds FIT retained messages under `root` and not one more. */
async function brokerFor(root: string): Promise<TestBroker> {
  const entry = ENTRY_OVERHEAD + messageBytes({ topic: `${root}/k0`, payload: Buffer.alloc(PAYLOAD), qos: 0, retain: true });
  b = await startBroker({ workers: 1, maxRetainedMemory: FIT * entry + Math.floor(entry / 2) });
  return b;
}

async function retainedUnder(port: number, version: Version, root: string, count: number): Promise<string[]> {
  const sub = await connectClient(port, { version });
  await sub.subscribeAsync(`${root}/#`, { qos: 1 });
  const got = await nextMessages(sub, count, (m) => m.topic.startsWith(`${root}/`));
  await expectNoMessage(sub, 100, (m) => m.topic.startsWith(`${root}/`));
  assert.ok(
    got.every((m) => m.packet.retain),
    'sent as retained [MQTT-3.3.1-9]',
  );
  return got.map((m) => m.topic.slice(root.length + 1)).sort();
}

for (const version of VERSIONS) {
  describe(label(version), () => {
    test(`maxRetainedMemory: ${FIT} retained messages fit and a new subscriber gets them all; ${FIT + 2} evict the 2 oldest`, async () => {
      const root = uniqueTopic('rm');
      const { broker, port } = await brokerFor(root);
      const pub = await connectClient(port, { version });
      const payload = Buffer.alloc(PAYLOAD, 0x72);
      for (let i = 0; i < FIT; i++) await pub.publishAsync(`${root}/k${i}`, payload, { qos: 1, retain: true });
      assert.deepEqual(await retainedUnder(port, version, root, FIT), ['k0', 'k1', 'k2', 'k3']);
      const cap = broker.config.maxRetainedMemory;
      for (let i = FIT; i < FIT + 2; i++) await pub.publishAsync(`${root}/k${i}`, payload, { qos: 1, retain: true });
      await waitUntil(async () => (await broker.stats()).router.retained === FIT, `${FIT} retained messages left`);
      assert.ok((await broker.stats()).router.retainedBytes <= cap, 'the store is back under the cap');
      assert.deepEqual(await retainedUnder(port, version, root, FIT), ['k2', 'k3', 'k4', 'k5']);
    });

    test('maxRetainedMemory: over the cap, an expired retained message goes before the oldest [MQTT-3.3.2-5]', async () => {
      const root = uniqueTopic('rmx');
      const { port } = await brokerFor(root);
      const pub = await connectClient(port, { version: 5 });
      const payload = Buffer.alloc(PAYLOAD, 0x78);
      await pub.publishAsync(`${root}/k0`, payload, { qos: 1, retain: true });
      await pub.publishAsync(`${root}/k1`, payload, { qos: 1, retain: true, properties: { messageExpiryInterval: EXPIRY_S } });
      const expiresAt = Date.now() + EXPIRY_S * 1000;
      for (let i = 2; i < FIT; i++) await pub.publishAsync(`${root}/k${i}`, payload, { qos: 1, retain: true });
      await waitUntil(() => Date.now() > expiresAt, 'k1 expired', EXPIRY_S * 1000 + 1000);
      await pub.publishAsync(`${root}/k${FIT}`, payload, { qos: 1, retain: true });
      assert.deepEqual(await retainedUnder(port, version, root, FIT), ['k0', 'k2', 'k3', 'k4']);
    });
  });
}
