/**
 * Helpers of the limit tests: a bounded wait on a condition (polling
 * broker.stats() and the like), the host counters summed over every actor
 * host, and a raw subscriber that holds its QoS 1 receive window full.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { Broker } from '../helpers/broker.js';
import { WAIT_MS, type Version } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

const POLL_MS = 10;

/** Resolves once `check` holds; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export interface HostTotals {
  connected: number;
  queued: number;
  queuedBytes: number;
  queueFull: number;
  expired: number;
}

/** The session counters of every actor host, summed. */
export async function hostTotals(broker: Broker): Promise<HostTotals> {
  const { hosts } = await broker.stats();
  const sum = (pick: (h: (typeof hosts)[number]) => number): number => hosts.reduce((n, h) => n + pick(h), 0);
  return {
    connected: sum((h) => h.connected),
    queued: sum((h) => h.queued),
    queuedBytes: sum((h) => h.queuedBytes),
    queueFull: sum((h) => h.drops.queueFull),
    expired: sum((h) => h.drops.expired),
  };
}

/** `label` followed by `size` filler bytes; the label comes back with labelOf(). */
export function labelled(label: string, size: number): Buffer {
  return Buffer.concat([Buffer.from(`${label}:`), Buffer.alloc(size, 0x61)]);
}

export function labelOf(payload: Buffer): string {
  return payload.toString('latin1', 0, payload.indexOf(0x3a));
}

/**
 * A raw subscriber at QoS 1 that acknowledges nothing until told: its
 * receive window (5.0: Receive Maximum `window`; 3.1.1: the broker's
 * maxInflightMessages) fills, and later messages wait in its session queue.
 */
export class StalledSubscriber {
  private readonly unacked: IPublishPacket[] = [];

  private constructor(readonly raw: RawClient) {}

  static async open(port: number, version: Version, topic: string, window: number, clientId?: string): Promise<StalledSubscriber> {
    const raw = await RawClient.connect(port, version);
    await raw.handshake({
      ...(clientId ? { clientId } : {}),
      ...(version === 5 ? { properties: { receiveMaximum: window } } : {}),
    });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await raw.expectPacket('suback');
    return new StalledSubscriber(raw);
  }

  /** Waits for `count` PUBLISHes without acknowledging them; returns their labels. */
  async take(count: number): Promise<string[]> {
    const labels: string[] = [];
    for (let i = 0; i < count; i++) {
      const p = await this.raw.expectPacket('publish');
      this.unacked.push(p);
      labels.push(labelOf(p.payload as Buffer));
    }
    return labels;
  }

  /**
   * Acknowledges one message at a time until `count` more have come through
   * the freed slots, acknowledges those too, then checks that nothing more
   * was queued: PINGRESP comes before any other PUBLISH (a plugin's
   * asynchronous on_deliver could delay one past it). Returns their labels.
   */
  async drain(count: number): Promise<string[]> {
    const labels: string[] = [];
    while (labels.length < count) {
      const p = this.unacked.shift();
      if (!p) throw new Error(`only ${labels.length} of ${count} messages came`);
      this.raw.send({ cmd: 'puback', messageId: p.messageId as number });
      const next = await this.raw.expectPacket('publish');
      this.unacked.push(next);
      labels.push(labelOf(next.payload as Buffer));
    }
    for (const p of this.unacked.splice(0)) this.raw.send({ cmd: 'puback', messageId: p.messageId as number });
    this.raw.send({ cmd: 'pingreq' });
    await this.raw.expectPacket('pingresp');
    return labels;
  }
}
