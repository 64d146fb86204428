/**
 * Shared pieces of the cluster tests: a real nats-server and Shoal nodes
 * joined to it through the embedding API (for one test, or a describe block) (each with its own port, node id
 * and, where asked, data directory), and the wait for a subscription to be
 * known across the cluster (its interest reaches NATS a round trip after
 * SUBACK). Runs in the test process.
 */
import type { MqttClient } from 'mqtt';
import { after, before } from 'node:test';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAllClients, connectClient, nextMessage, uniqueId, type Received, type TestClient } from '../helpers/clients.js';
import { pollFor } from '../helpers/wait.js';
import { startNats, type NatsServer } from '../helpers/nats.js';
import type { BrokerOptions } from '../../src/index.js';

/** Starts node `nodeId` of the cluster on `nats`. */
export function startNode(nats: NatsServer, nodeId: string, overrides: BrokerOptions = {}): Promise<TestBroker> {
  return startBroker({
    cluster: { servers: [nats.url], nodeId },
    ...overrides,
  });
}

/** A nats-server and the nodes `options` describe for the enclosing describe block; read them inside its tests. */
export function clusterForSuite(options: BrokerOptions[]): { nats: () => NatsServer; nodes: () => TestBroker[] } {
  let nats: NatsServer | undefined;
  const nodes: TestBroker[] = [];
  before(async () => {
    nats = await startNats();
    for (const overrides of options) nodes.push(await startNode(nats, nodeName(), overrides));
  });
  after(async () => {
    await closeAllClients();
    for (const node of nodes) await node.close();
    await nats?.close();
  });
  return {
    nats: () => {
      if (!nats) throw new Error('clusterForSuite: nats-server is not started yet');
      return nats;
    },
    nodes: () => nodes,
  };
}

/** The retained message a new subscriber on `port` gets for `topic`, or undefined when none comes. */
export async function retainedFor(port: number, topic: string, version: 4 | 5): Promise<Received | undefined> {
  const probe = await connectClient(port, { version });
  try {
    await probe.subscribeAsync(topic, { qos: 1 });
    return await nextMessage(probe, () => true, 300).catch(() => undefined);
  } finally {
    probe.end(true);
  }
}

/** The retained message a new subscriber on `port` gets for `topic`, once its payload is `payload`. */
export function pollRetained(port: number, topic: string, version: 4 | 5, payload: string, boundMs = 5_000): Promise<Received> {
  return pollFor(
    async () => {
      const m = await retainedFor(port, topic, version);
      return m?.payload.toString() === payload ? m : undefined;
    },
    `the retained message ${payload} on ${topic}`,
    boundMs,
  );
}

/** A unique node id. */
export function nodeName(): string {
  return uniqueId('node').replace(/[^A-Za-z0-9_-]/g, '');
}

const PROBE = 'probe';

/**
 * Publishes QoS 0 probes on `topic` from `publisher` until `subscriber` gets
 * one (its subscription reached every node), then takes the probes that
 * were on their way out of its inbox.
 */
export async function untilLinked(publisher: MqttClient, subscriber: TestClient, topic: string): Promise<void> {
  const timer = setInterval(() => publisher.publish(topic, PROBE, { qos: 0 }), 50);
  try {
    await nextMessage(subscriber, (m) => m.payload.toString() === PROBE);
  } finally {
    clearInterval(timer);
  }
  // A last probe may still be in flight: a round trip of the publisher through the cluster drains it.
  const marker = `${PROBE}-end-${uniqueId()}`;
  publisher.publish(topic, marker, { qos: 0 });
  while ((await nextMessage(subscriber, (m) => m.payload.toString().startsWith(PROBE))).payload.toString() !== marker);
}
