/**
 * Shared steps of the conformance suite (test/conformance/NN-area.test.ts),
 * on top of the raw client of test/helpers/raw-client.ts: a connected raw
 * session, SUBSCRIBE and PUBLISH exchanges that wait for their
 * acknowledgements, the server closing a connection (with its DISCONNECT
 * reason code on 5.0), and "nothing arrives" checks that first do a round
 * trip with the broker. Every wait is bounded; nothing sleeps to decide an
 * outcome except expectNoPublish after its round trip.
 */
import assert from 'node:assert/strict';
import type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubackPacket,
  ISubscribePacket,
  ISubscription,
  Packet,
} from 'mqtt-packet';
import type { Version } from '../helpers/clients.js';
import { describe as describePacket, RawClient } from '../helpers/raw-client.js';

export { describePacket };

let packetId = 0;
/** A packet identifier for the next client packet (1..65535). */
export function nextPacketId(): number {
  packetId = (packetId % 65535) + 1;
  return packetId;
}

/** Opens a raw connection, sends CONNECT with `fields`, and asserts a successful CONNACK. */
export async function connectRaw(
  port: number,
  version: Version,
  fields: Partial<IConnectPacket> = {},
): Promise<RawClient & { connack: IConnackPacket }> {
  const client = await RawClient.connect(port, version);
  const connack = await client.handshake(fields);
  assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0, `CONNECT refused: ${describePacket(connack)}`);
  return Object.assign(client, { connack });
}

/** SUBSCRIBE to `subscriptions` (a filter at QoS 2, or full entries) and resolves with the SUBACK. */
export async function subscribe(
  client: RawClient,
  subscriptions: string | ISubscription[],
  properties?: ISubscribePacket['properties'],
): Promise<ISubackPacket> {
  const subs = typeof subscriptions === 'string' ? [{ topic: subscriptions, qos: 2 as const }] : subscriptions;
  const messageId = nextPacketId();
  client.send({ cmd: 'subscribe', messageId, subscriptions: subs, ...(properties ? { properties } : {}) });
  const suback = await client.waitForPacket('suback');
  assert.equal(suback.messageId, messageId, '[MQTT-3.8.4-2] SUBACK carries the SUBSCRIBE packet identifier');
  return suback;
}

/** PUBLISH from a raw client; at QoS 1 and 2 resolves once the exchange completed (PUBACK, or PUBREC/PUBREL/PUBCOMP). */
export async function publish(
  client: RawClient,
  topic: string,
  payload: string | Buffer,
  qos: 0 | 1 | 2 = 0,
  extra: Partial<IPublishPacket> = {},
): Promise<Packet | undefined> {
  const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain: false, dup: false, ...extra };
  if (qos > 0) packet.messageId = extra.messageId ?? nextPacketId();
  client.send(packet);
  if (qos === 0) return undefined;
  if (qos === 1) return client.waitForPacket('puback');
  const pubrec = await client.waitForPacket('pubrec');
  if ((pubrec.reasonCode ?? 0) >= 0x80) return pubrec;
  client.send({ cmd: 'pubrel', messageId: packet.messageId as number });
  return client.waitForPacket('pubcomp');
}

/** Waits for the next PUBLISH to `client` and acknowledges it (PUBACK, or PUBREC then PUBCOMP on PUBREL) unless `ack` is false. */
export async function receive(client: RawClient, ack = true, timeoutMs?: number): Promise<IPublishPacket> {
  const p = await client.waitForPacket('publish', timeoutMs);
  if (!ack || p.qos === 0) return p;
  if (p.qos === 1) {
    client.send({ cmd: 'puback', messageId: p.messageId as number });
  } else {
    client.send({ cmd: 'pubrec', messageId: p.messageId as number });
    await client.waitForPacket('pubrel');
    client.send({ cmd: 'pubcomp', messageId: p.messageId as number });
  }
  return p;
}

/** A PINGREQ/PINGRESP round trip: everything the broker sent before it has arrived. */
export async function roundTrip(client: RawClient): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.waitForPacket('pingresp');
}

/**
 * Asserts that `client` gets no PUBLISH: a round trip with `via` (the
 * publisher, whose messages are routed first) and `client`, then `ms` more.
 */
export async function expectNoPublish(client: RawClient, via: RawClient = client, ms = 150): Promise<void> {
  await roundTrip(via);
  await roundTrip(client);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const got = client.unread().filter((p) => p.cmd === 'publish');
  assert.equal(got.length, 0, `unexpected PUBLISH: ${got.map(describePacket).join('; ')}`);
}

/**
 * Asserts that the server closes the connection; on 5.0 with a DISCONNECT
 * carrying `reasonCode` first (when given), which is returned.
 */
export async function expectServerClose(client: RawClient, version: Version, reasonCode?: number): Promise<IDisconnectPacket | undefined> {
  await client.expectClose();
  const disconnect = client.received.find((p): p is IDisconnectPacket => p.cmd === 'disconnect');
  if (version === 5 && reasonCode !== undefined) {
    assert.ok(disconnect, `no DISCONNECT before the close; got: ${client.received.map(describePacket).join('; ') || 'nothing'}`);
    assert.equal(disconnect.reasonCode, reasonCode, `DISCONNECT ${describePacket(disconnect)}`);
  }
  if (version !== 5) assert.equal(disconnect, undefined, '3.1.1 has no server DISCONNECT');
  return disconnect;
}

/** A unique topic for one test. */
let topicCounter = 0;
export function topic(area: string): string {
  topicCounter++;
  return `conf/${area}/${process.pid}-${topicCounter}-${Math.random().toString(36).slice(2, 8)}`;
}
