/**
 * `/metrics` scraped over HTTP and parsed as Prometheus text, against the
 * traffic the test sent with mqtt.js over real sockets (MQTT 3.1.1 and 5.0,
 * hosts inline and in a worker): packets and bytes by type, messages routed
 * and delivered by QoS, connects and refused logins by reason, connections
 * by transport and protocol, queue depths, each thread's figures; no client
 * id or topic ever becomes a label. Also `broker.topSessions()`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  nextMessages,
  persistent,
  roundTrip,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  WAIT_MS,
  type Version,
} from '../helpers/clients.js';
import { scrapeMetrics, type Scrape } from '../helpers/prometheus.js';
import { label } from '../helpers/spec.js';

function metricsPort(b: TestBroker): number {
  const address = b.broker.addresses().metrics;
  assert.ok(address, 'the monitoring server listens');
  return address.port;
}

/** How much `name{labels}` grew from `before` to `after` (a missing sample counts as 0). */
function grew(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
}

/** Scrapes until `done` holds of a scrape (each scrape is a round trip with the broker), for at most WAIT_MS. */
async function scrapeUntil(port: number, done: (scrape: Scrape) => boolean): Promise<Scrape> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const scrape = await scrapeMetrics(port);
    if (done(scrape) || Date.now() > deadline) return scrape;
  }
}

/** Bytes of a PUBLISH from mqtt.js with a short topic and payload: fixed header, topic, packet id (QoS > 0), empty 5.0 properties. */
function publishBytes(topic: string, payload: string, qos: number, version: Version): number {
  return 2 + 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + Buffer.byteLength(payload);
}

for (const version of VERSIONS) {
  const protocol = version === 5 ? '5.0' : '3.1.1';
  for (const workers of [0, 1]) {
    describe(`/metrics (${label(version)}, workers: ${workers})`, () => {
      test('packets, bytes, routed and delivered messages by QoS, connects and connections match the traffic sent', async () => {
        const b = await startBroker({ workers, metricsPort: 0 });
        try {
          const port = metricsPort(b);
          const before = await scrapeMetrics(port);
          const subId = uniqueId('msub');
          const sub = await connectClient(b.port, { version, clientId: subId });
          const pub = await connectClient(b.port, { version });
          const topic = uniqueTopic('metrics');
          await sub.subscribeAsync(topic, { qos: 2 });
          const sent = [
            { qos: 0, n: 3 },
            { qos: 1, n: 4 },
            { qos: 2, n: 2 },
          ] as const;
          let expectedPublishBytes = 0;
          const arriving = nextMessages(sub, 9, (m) => m.topic === topic);
          for (const { qos, n } of sent) {
            for (let i = 0; i < n; i++) {
              const payload = `q${qos}-${i}`;
              expectedPublishBytes += publishBytes(topic, payload, qos, version);
              await pub.publishAsync(topic, payload, { qos });
            }
          }
          await arriving;
          // Both clients' acknowledgements are read by the broker before the answer to these; the
          // subscriber's PUBCOMPs follow the broker's PUBRELs, which may cross the round trip.
          await roundTrip(sub);
          await roundTrip(pub);
          const after = await scrapeUntil(port, (s) => grew(before, s, 'shoal_packets_received_total', { type: 'pubcomp' }) === 2);

          assert.equal(grew(before, after, 'shoal_packets_received_total', { type: 'publish' }), 9);
          assert.equal(grew(before, after, 'shoal_bytes_received_total', { type: 'publish' }), expectedPublishBytes);
          assert.equal(grew(before, after, 'shoal_packets_sent_total', { type: 'publish' }), 9);
          for (const { qos, n } of sent) {
            assert.equal(grew(before, after, 'shoal_messages_routed_total', { qos: String(qos) }), n, `routed at QoS ${qos}`);
            assert.equal(grew(before, after, 'shoal_messages_delivered_total', { qos: String(qos) }), n, `delivered at QoS ${qos}`);
          }
          for (const [type, n] of [
            ['puback', 4],
            ['pubrec', 2],
            ['pubrel', 2],
            ['pubcomp', 2],
            ['connack', 2],
            ['suback', 1],
            ['unsuback', 2],
          ] as const) {
            assert.equal(grew(before, after, 'shoal_packets_sent_total', { type }), n, `${type} sent`);
          }
          for (const [type, n] of [
            ['connect', 2],
            ['subscribe', 1],
            ['unsubscribe', 2],
            ['puback', 4],
            ['pubrec', 2],
            ['pubrel', 2],
            ['pubcomp', 2],
          ] as const) {
            assert.equal(grew(before, after, 'shoal_packets_received_total', { type }), n, `${type} received`);
          }
          assert.equal(
            grew(before, after, 'shoal_bytes_sent_total', { type: 'puback' }),
            4 * 4,
            'a PUBACK with no reason string is 4 bytes',
          );
          assert.equal(grew(before, after, 'shoal_connects_total', { result: 'success' }), 2);
          assert.equal(after.value('shoal_connections', { transport: 'tcp', protocol }), 2);
          assert.equal(after.value('shoal_sessions_connected'), 2);
          assert.equal(after.value('shoal_subscriptions'), 1);
          assert.equal(after.types.get('shoal_packets_received_total'), 'counter');
          assert.equal(after.types.get('shoal_connections'), 'gauge');

          // Each thread's figures: the main thread's, and the worker host's own.
          const threads = after.samples('shoal_thread_event_loop_active_seconds_total').map((s) => s.labels['thread']);
          assert.deepEqual(threads.sort(), workers === 0 ? ['main'] : ['host-0', 'main']);
          assert.ok((after.value('shoal_thread_event_loop_active_seconds_total', { thread: 'main' }) ?? 0) > 0);
          assert.ok(after.value('shoal_thread_gc_pause_seconds_total', { thread: 'main' }) !== undefined);
          assert.ok(grew(before, after, 'shoal_batches_total', { host: '0', direction: 'to_host' }) > 0);
          assert.ok(
            grew(before, after, 'shoal_batch_frames_total', { host: '0', direction: 'to_main' }) >=
              grew(before, after, 'shoal_batches_total', { host: '0', direction: 'to_main' }),
          );
          assert.ok((after.value('process_resident_memory_bytes') ?? 0) > 0, "the process's memory");

          // Bounded labels: no client id, no topic.
          assert.ok(!after.text.includes(subId), 'no client id in the metrics');
          assert.ok(!after.text.includes(topic), 'no topic in the metrics');
          await closeClient(sub);
          await closeClient(pub);
        } finally {
          await b.close();
        }
      });

      test('a refused login counts under its reason [MQTT-3.2.2-6]', async () => {
        const b = await startBroker({ workers, metricsPort: 0, allowAnonymous: false });
        try {
          const before = await scrapeMetrics(metricsPort(b));
          await assert.rejects(connectClient(b.port, { version, reconnectPeriod: 0 }));
          const after = await scrapeMetrics(metricsPort(b));
          assert.equal(grew(before, after, 'shoal_auth_failures_total', { reason: 'not_authorized' }), 1);
          assert.equal(grew(before, after, 'shoal_connects_total', { result: 'not_authorized' }), 1);
          assert.equal(grew(before, after, 'shoal_connects_total', { result: 'success' }), 0);
        } finally {
          await b.close();
        }
      });

      test('queue depths: messages queued for an offline session are counted, and it tops broker.topSessions by queue', async () => {
        const b = await startBroker({ workers, metricsPort: 0 });
        try {
          const subId = uniqueId('queued');
          const topic = uniqueTopic('queued');
          const sub = await connectClient(b.port, { version, clientId: subId, ...persistent(version) });
          await sub.subscribeAsync(topic, { qos: 1 });
          await closeClient(sub);
          const pub = await connectClient(b.port, { version });
          for (let i = 0; i < 3; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 });
          const scrape = await scrapeMetrics(metricsPort(b));
          assert.equal(scrape.value('shoal_queued_messages'), 3);
          assert.ok((scrape.value('shoal_queued_bytes') ?? 0) > 0);
          assert.equal(scrape.value('shoal_sessions'), 2, 'the offline session and the publisher');
          assert.equal(scrape.value('shoal_sessions_connected'), 1);

          const [top] = await b.broker.topSessions({ by: 'queue', limit: 5 });
          assert.equal(top?.clientId, subId);
          assert.equal(top?.queued, 3);
          assert.equal(top?.connected, false);
          const byPackets = await b.broker.topSessions({ by: 'packets', limit: 1 });
          assert.equal(byPackets.length, 1);
          assert.equal(byPackets[0]?.clientId, pub.clientId, 'the publisher sent the most packets');
          assert.ok((byPackets[0]?.packetsIn ?? 0) >= 3);
          assert.throws(() => void b.broker.topSessions({ limit: 0 }), RangeError);
          assert.throws(() => void b.broker.topSessions({ by: 'size' as 'queue' }), TypeError);
          await closeClient(pub);
        } finally {
          await b.close();
        }
      });
    });
  }
}
