/**
 * The incoming QoS 2 messages of one session waiting for their PUBREL
 * [MQTT-4.3.3-10], and, with a session store, whether each is known to be
 * kept by every place it was routed to. A message not yet known to be kept
 * carries an id of its publish (`qos2Id`, random, the same for every route
 * of that publish): after a restart, a resend of its PUBLISH is routed
 * again with `resent`, and the sessions that committed a copy the first
 * time skip it (workers/actor-host.ts), which keeps QoS 2 exactly once
 * across a crash. Plain object inside a SessionActor; runs wherever the
 * actor host runs.
 */
import { randomUUID } from 'node:crypto';
import type { MaybePromise } from '../../src/shared/async.js';
import { LazyMap } from '../../src/shared/lazy-map.js';
import type { InboundQos2Record } from './session-store.js';

interface Held {
  /** The publish's id while it is routed with a store; undefined without one. */
  qos2Id: string | undefined;
  /** Every place it was routed to committed it (always true without a store). */
  kept: boolean;
  /** Set while the commits are pending in this process: PUBREC waits for it. */
  keeping: Promise<boolean> | undefined;
}

export class InboundQos2 {
  private readonly held = new LazyMap<number, Held>();

  get size(): number {
    return this.held.size;
  }

  has(packetId: number): boolean {
    return this.held.has(packetId);
  }

  /**
   * Whether the message `packetId` is kept: true, a promise while its commits
   * are pending, or undefined when it was held before a restart and never
   * known to be kept (route it again).
   */
  kept(packetId: number): MaybePromise<boolean> | undefined {
    const held = this.held.get(packetId);
    if (held === undefined || held.kept) return true;
    return held.keeping;
  }

  /** Holds `packetId` until PUBREL, its message kept (acknowledged with PUBREC). */
  hold(packetId: number): void {
    const held = this.held.get(packetId);
    if (held === undefined) this.held.set(packetId, { qos2Id: undefined, kept: true, keeping: undefined });
    else held.kept = true;
  }

  /**
   * Holds `packetId` while its message is routed with a store: the id of its
   * publish, and `resent` when it is routed again after a restart.
   */
  route(packetId: number): { qos2Id: string; resent: boolean } {
    const held = this.held.get(packetId);
    if (held?.qos2Id !== undefined) return { qos2Id: held.qos2Id, resent: true };
    const qos2Id = randomUUID();
    this.held.set(packetId, { qos2Id, kept: false, keeping: undefined });
    return { qos2Id, resent: false };
  }

  /** The commits of `packetId` are pending as `keeping` (a resend waits for it); hold() marks it kept. */
  keeping(packetId: number, keeping: Promise<boolean>): void {
    const held = this.held.get(packetId);
    if (held === undefined) return;
    held.keeping = keeping;
    void keeping.then(() => {
      if (held.keeping === keeping) held.keeping = undefined;
    });
  }

  /** PUBREL, or a refusal: forgets `packetId`; answers whether it was held, and its publish id. */
  release(packetId: number): { held: boolean; qos2Id: string | undefined } {
    const held = this.held.get(packetId);
    if (held === undefined) return { held: false, qos2Id: undefined };
    this.held.delete(packetId);
    return { held: true, qos2Id: held.qos2Id };
  }

  toRecord(): { awaitingRelease: number[]; inboundQos2: InboundQos2Record[] } {
    const awaitingRelease: number[] = [];
    const inboundQos2: InboundQos2Record[] = [];
    for (const [packetId, held] of this.held) {
      if (held.qos2Id === undefined) awaitingRelease.push(packetId);
      else inboundQos2.push({ packetId, qos2Id: held.qos2Id, kept: held.kept });
    }
    return { awaitingRelease, inboundQos2 };
  }

  restore(awaitingRelease: readonly number[], inboundQos2: readonly InboundQos2Record[] = []): void {
    for (const packetId of awaitingRelease) this.hold(packetId);
    for (const { packetId, qos2Id, kept } of inboundQos2) this.held.set(packetId, { qos2Id, kept, keeping: undefined });
  }
}
