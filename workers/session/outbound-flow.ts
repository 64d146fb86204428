/**
 * Outbound QoS 1/2 state of one session: packet ids, the inflight window of
 * unacknowledged publishes (and PUBRELs awaiting PUBCOMP), and the queue of
 * messages waiting for a slot, bounded by messages and by estimated bytes
 * with a drop policy. Lives inside a session actor; runs wherever the actor
 * host runs.
 */
import type { AppMessage, QoS } from '../../src/shared/message/app-message.js';
import type { QueueDropPolicy } from '../../src/api/config.js';
import { LazyMap } from '../../src/shared/lazy-map.js';
import { messageBytes } from '../../src/shared/message/message-bytes.js';

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

/** The bounds of a session's queue: messages, estimated bytes (0 = no byte cap), and which message goes when full. */
export interface QueueCaps {
  messages: number;
  bytes: number;
  policy: QueueDropPolicy;
}

/**
 * Estimated bytes a queued message holds beyond its topic, payload and
 * properties (src/shared/message/message-bytes.ts): the Outgoing record, its AppMessage
 * copy, the payload's Buffer object and its slot in the queue.
 */
const QUEUE_ENTRY_OVERHEAD_BYTES = 200;

/** What a queued message counts against the byte cap. */
export function queuedBytes(message: AppMessage): number {
  return QUEUE_ENTRY_OVERHEAD_BYTES + messageBytes(message);
}

/** What enqueue() and trim() answer when nothing was dropped (no allocation on the common path). */
const NONE: readonly Outgoing[] = [];

export class OutboundFlow {
  readonly inflight = new LazyMap<number, Outgoing>();
  private queue: Outgoing[] = [];
  /** queuedBytes() of each queued message, in the same order. */
  private sizes: number[] = [];
  private head = 0;
  private nextPacketId = 1;
  /** Estimated bytes of the queued messages. */
  queuedBytes = 0;

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

  /**
   * Queues `o` within `caps`; returns the messages dropped for it, in order:
   * `o` itself when it alone is over the caps or the policy keeps the queue
   * as it is ('newest'), the oldest queued ones otherwise ('oldest').
   */
  enqueue(o: Outgoing, bytes: number, caps: QueueCaps): readonly Outgoing[] {
    if (caps.messages === 0 || (caps.bytes > 0 && bytes > caps.bytes)) return [o];
    if (caps.policy === 'newest' && this.over(caps, 1, bytes)) return [o];
    this.queue.push(o);
    this.sizes.push(bytes);
    this.queuedBytes += bytes;
    return this.trim(caps);
  }

  /** Drops queued messages until the queue is within `caps`: the oldest, or the newest, as the policy says. */
  trim(caps: QueueCaps): readonly Outgoing[] {
    if (this.queued === 0 || !this.over(caps, 0, 0)) return NONE;
    const dropped: Outgoing[] = [];
    while (this.queued > 0 && this.over(caps, 0, 0)) {
      dropped.push(caps.policy === 'oldest' ? this.shift()! : this.pop());
    }
    return dropped;
  }

  shift(): Outgoing | undefined {
    if (this.head >= this.queue.length) return undefined;
    const o = this.queue[this.head]!;
    this.queuedBytes -= this.sizes[this.head]!;
    this.queue[this.head++] = undefined as unknown as Outgoing;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return o;
  }

  private pop(): Outgoing {
    this.queuedBytes -= this.sizes.pop()!;
    return this.queue.pop()!;
  }

  /** Whether the queue with `count` more messages of `bytes` more bytes is over `caps`. */
  private over(caps: QueueCaps, count: number, bytes: number): boolean {
    return this.queued + count > caps.messages || (caps.bytes > 0 && this.queuedBytes + bytes > caps.bytes);
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
    const keptSizes: number[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const o = this.queue[i]!;
      if (o.share !== undefined) {
        taken.push(o);
        this.queuedBytes -= this.sizes[i]!;
      } else {
        kept.push(o);
        keptSizes.push(this.sizes[i]!);
      }
    }
    this.queue = kept;
    this.sizes = keptSizes;
    this.head = 0;
    return taken;
  }

  /** The queued messages, oldest first. */
  queuedMessages(): Outgoing[] {
    return this.queue.slice(this.head);
  }

  /**
   * Takes back what a stored session held: `inflight` keeps its packet ids
   * and states, `queued` its order (each counted with queuedBytes()). For an
   * empty flow only; no cap applies, as the session held them all.
   */
  restore(inflight: readonly Outgoing[], queued: readonly Outgoing[]): void {
    for (const o of inflight) this.inflight.set(o.packetId, o);
    for (const o of queued) {
      const bytes = queuedBytes(o.message);
      this.queue.push(o);
      this.sizes.push(bytes);
      this.queuedBytes += bytes;
    }
  }

  /** Forgets everything (clean start, or session end). */
  clear(): void {
    this.inflight.clear();
    this.queue = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private freePacketId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }
}
