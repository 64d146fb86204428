/**
 * Outgoing Topic Aliases one 5.0 client never learned, on the main thread,
 * one per Connection. The session actor assigns aliases (workers/session/topic-alias.ts)
 * and believes the client knows every alias it sent with a topic; when the
 * main thread drops that QoS 0 PUBLISH for a slow reader, the client does not,
 * and the alias-only PUBLISHes that follow would name an unknown alias or,
 * after the alias was re-assigned, the topic it stood for before.
 *
 * So a dropped PUBLISH that sets alias N to topic T marks N as lost (T kept).
 * While any alias is lost, each outgoing PUBLISH is peeked: one that sets N
 * with a topic teaches it again (the mark goes); one that uses a lost N alone
 * is re-encoded with T and N, which teaches it again, at any QoS. Nothing is
 * peeked while no alias is lost, and at most one topic is kept per alias: the
 * memory is bounded by the client's Topic Alias Maximum.
 *
 * Never dropping a PUBLISH that sets an alias would be simpler but unbounded:
 * with more topics than aliases (LRU re-assignment) nearly every PUBLISH sets
 * one, and the socket of a reader that stopped would grow without limit.
 * Dropping alias-only PUBLISHes of a lost alias instead of re-encoding them
 * would lose every later QoS 0 message of that topic, since the session keeps
 * sending it alias-only.
 */
import { decodePublish, encodePublish, peekTopicAlias } from '../../shared/codec/publish.js';
import { asBuffer } from '../../shared/message/owned.js';

export class LostAliases {
  /** Lost alias → the topic the client should have learned with it. */
  private readonly topics = new Map<number, string>();

  get size(): number {
    return this.topics.size;
  }

  /** A 5.0 PUBLISH was dropped: an alias it set is lost. */
  dropped(packet: Uint8Array): void {
    const bytes = asBuffer(packet);
    const { topicStart, topicEnd, alias } = peekTopicAlias(bytes);
    if (alias !== 0 && topicEnd > topicStart) this.topics.set(alias, bytes.toString('utf8', topicStart, topicEnd));
  }

  /**
   * A 5.0 PUBLISH about to be written: the packet to write, re-encoded with
   * its topic when it uses a lost alias alone; undefined when that would
   * exceed `maxPacketSize` (0: no limit), and the alias stays lost.
   */
  repair(packet: Uint8Array, maxPacketSize: number): Uint8Array | undefined {
    const bytes = asBuffer(packet);
    const { topicStart, topicEnd, alias } = peekTopicAlias(bytes);
    if (alias === 0) return packet;
    if (topicEnd > topicStart) {
      this.topics.delete(alias);
      return packet;
    }
    const topic = this.topics.get(alias);
    if (topic === undefined) return packet;
    const repaired = encodePublish({ ...decodePublish(bytes, 5), topic }, 5);
    if (maxPacketSize > 0 && repaired.length > maxPacketSize) return undefined;
    this.topics.delete(alias);
    return repaired;
  }
}
