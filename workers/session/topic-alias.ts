/**
 * MQTT 5.0 Topic Aliases of one network connection, both directions
 * (spec 3.3.2.3.4). Inbound: the aliases the client defines, up to our Topic
 * Alias Maximum. Outbound: the aliases we assign, up to the client's Topic
 * Alias Maximum (and our cap), reusing the least recently used alias when all
 * are taken. Both are dropped with the connection [MQTT-3.3.2-7].
 * Lives inside a session actor; runs wherever the actor host runs.
 */
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';

export class InboundAliases {
  private readonly topics = new Map<number, string>();

  constructor(private readonly maximum: number) {}

  /**
   * The topic of a PUBLISH that carries Topic Alias `alias`: an empty `topic`
   * is resolved from the alias, a non-empty one (already validated) defines it.
   */
  resolve(alias: number, topic: string): string {
    if (alias === 0 || alias > this.maximum) {
      throw new ProtocolError(
        ReasonCode.TopicAliasInvalid,
        `Topic Alias ${alias} outside 1..${this.maximum} [MQTT-3.3.2-8] [MQTT-3.3.2-9]`,
      );
    }
    if (topic !== '') {
      this.topics.set(alias, topic);
      return topic;
    }
    const known = this.topics.get(alias);
    if (known === undefined) throw new ProtocolError(ReasonCode.ProtocolError, `Topic Alias ${alias} has no topic on this connection`);
    return known;
  }
}

/** How to send one PUBLISH topic: `alias` with the topic, or with '' when the client already knows it. */
export interface AliasChoice {
  alias: number;
  known: boolean;
  /** The topic whose alias is taken over (least recently used), if any. */
  evicts: string | undefined;
}

export class OutboundAliases {
  /** Topic → alias, least recently used first. */
  private readonly aliases = new Map<string, number>();

  constructor(readonly capacity: number) {}

  /** The alias to use for `topic`; nothing changes until commit(). */
  choose(topic: string): AliasChoice {
    const alias = this.aliases.get(topic);
    if (alias !== undefined) return { alias, known: true, evicts: undefined };
    if (this.aliases.size < this.capacity) return { alias: this.aliases.size + 1, known: false, evicts: undefined };
    const [evicts, reused] = this.aliases.entries().next().value as [string, number];
    return { alias: reused, known: false, evicts };
  }

  /** The topic `alias` stands for, if assigned. */
  topicOf(alias: number): string | undefined {
    for (const [topic, a] of this.aliases) if (a === alias) return topic;
    return undefined;
  }

  /** Records that `topic` went out with `choice` (the packet was sent). */
  commit(topic: string, choice: AliasChoice): void {
    if (choice.evicts !== undefined) this.aliases.delete(choice.evicts);
    else if (choice.known) this.aliases.delete(topic);
    this.aliases.set(topic, choice.alias);
  }
}
