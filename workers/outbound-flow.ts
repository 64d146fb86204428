/**
 * Outbound QoS 1/2 state of one session: packet ids, the inflight window of
 * unacknowledged publishes (and PUBRELs awaiting PUBCOMP), and the bounded
 * queue of messages waiting for a slot. Lives inside a session actor.
 */
import type { AppMessage, QoS } from '../src/app-message.js';

export interface Outgoing {
  message: AppMessage;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[];
  packetId: number;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
  /** The shared subscription this message was picked for, if any. */
  share?: string;
}

export class OutboundFlow {
  readonly inflight = new Map<number, Outgoing>();
  private queue: Outgoing[] = [];
  private head = 0;
  private nextPacketId = 1;
  dropped = 0;

  constructor(public window: number) {}

  get queued(): number {
    return this.queue.length - this.head;
  }

  get hasSlot(): boolean {
    return this.inflight.size < this.window;
  }

  /** Gives `o` a free packet id and records it as inflight. */
  start(o: Outgoing): Outgoing {
    o.packetId = this.freePacketId();
    o.state = 'publish';
    this.inflight.set(o.packetId, o);
    return o;
  }

  /** Queues `o`; when the queue is at `limit`, drops the oldest. Returns the dropped message, if any. */
  enqueue(o: Outgoing, limit: number): Outgoing | undefined {
    if (limit === 0) {
      this.dropped++;
      return o;
    }
    this.queue.push(o);
    if (this.queued <= limit) return undefined;
    this.dropped++;
    return this.shift();
  }

  shift(): Outgoing | undefined {
    if (this.head >= this.queue.length) return undefined;
    const o = this.queue[this.head] as Outgoing;
    this.queue[this.head++] = undefined as unknown as Outgoing;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return o;
  }

  /** Removes a finished exchange (PUBACK, PUBCOMP); false when the id was not inflight in that state. */
  complete(packetId: number, state: Outgoing['state']): boolean {
    const o = this.inflight.get(packetId);
    if (!o || o.state !== state) return false;
    this.inflight.delete(packetId);
    return true;
  }

  /** PUBREC received: the message now waits for PUBCOMP. */
  released(packetId: number): boolean {
    const o = this.inflight.get(packetId);
    if (!o) return false;
    o.state = 'pubrel';
    return true;
  }

  /**
   * Removes and returns the messages of shared subscriptions that may go to
   * another member: every queued one, and the inflight QoS 1 ones not yet
   * acknowledged. Inflight QoS 2 messages stay.
   */
  takeShared(): Outgoing[] {
    const taken: Outgoing[] = [];
    for (const [packetId, o] of this.inflight) {
      if (o.share !== undefined && o.qos === 1 && o.state === 'publish') {
        this.inflight.delete(packetId);
        taken.push(o);
      }
    }
    if (this.queued === 0) return taken;
    const kept: Outgoing[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const o = this.queue[i] as Outgoing;
      if (o.share !== undefined) taken.push(o);
      else kept.push(o);
    }
    this.queue = kept;
    this.head = 0;
    return taken;
  }

  /** Forgets everything (clean start, or session end). */
  clear(): void {
    this.inflight.clear();
    this.queue = [];
    this.head = 0;
  }

  private freePacketId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }
}
