/**
 * MQTT topics and filters as NATS subjects, for the cluster's routes. A
 * topic `a/b` of pool `p` travels on `{prefix}.t.{p}.a.b`; each level (and
 * the pool) is one subject token: kept as it is when it holds only
 * `[A-Za-z0-9_-]`, else `=` and its UTF-8 bytes in base64url (an empty
 * level is `=`), so equal levels give equal tokens and different levels
 * different ones. A filter's `+` is `*`, its `#` is `>` plus the parent
 * level (`a/#` matches `a`). The subject is a coarse pre-filter: the
 * receiving node's router matches every message again (the `$` rules
 * included), so a subject may match more than its filter. A topic whose
 * subject would exceed MAX_SUBJECT_LENGTH goes on its pool's long-topic
 * subject `{prefix}.l.{p}`, which every node takes. Main thread.
 */
import { createHash } from 'node:crypto';

/** The longest subject published or subscribed; NATS bounds a protocol line (`max_control_line`, 4 KiB by default). */
export const MAX_SUBJECT_LENGTH = 1024;

const PLAIN_TOKEN = /^[A-Za-z0-9_-]+$/;

/** One topic level (or a pool name) as one subject token. */
export function levelToken(level: string): string {
  return PLAIN_TOKEN.test(level) ? level : `=${Buffer.from(level).toString('base64url')}`;
}

export class ClusterSubjects {
  constructor(private readonly prefix: string) {}

  /** The subject a message on `topic` of `pool` is published on. */
  topic(pool: string, topic: string): string {
    let subject = `${this.prefix}.t.${levelToken(pool)}`;
    for (const level of topic.split('/')) subject += `.${levelToken(level)}`;
    return subject.length <= MAX_SUBJECT_LENGTH ? subject : this.longTopics(pool);
  }

  /** The subjects a node subscribes for `filter` (not `$share/`) of `pool`: one, or two for a filter ending in `/#`. */
  filter(pool: string, filter: string): string[] {
    const base = `${this.prefix}.t.${levelToken(pool)}`;
    const levels = filter.split('/');
    const tokens = levels.map((level) => (level === '+' ? '*' : level === '#' ? '>' : levelToken(level)));
    const subject = `${base}.${tokens.join('.')}`;
    if (subject.length > MAX_SUBJECT_LENGTH) return [`${base}.>`];
    if (levels.length > 1 && levels[levels.length - 1] === '#') return [subject, `${base}.${tokens.slice(0, -1).join('.')}`];
    return [subject];
  }

  /** Where messages of `pool` whose topic subject is too long are published. */
  longTopics(pool: string): string {
    return `${this.prefix}.l.${levelToken(pool)}`;
  }

  /** Every pool's long-topic subject, which every node takes. */
  allLongTopics(): string {
    return `${this.prefix}.l.>`;
  }

  /** The NATS queue group of the shared subscription `share` (`$share/{group}/{filter}`) of `pool`. */
  queue(pool: string, share: string): string {
    return `${this.prefix}.${digest(`${pool}\0${share}`)}`;
  }

  /** The subject node `nodeId` answers session handovers on. */
  handover(nodeId: string): string {
    return `${this.prefix}.node.${nodeId}.handover`;
  }
}

/** A key-value bucket key for `pool` and `name` (a topic, a client id): fixed length, only key-safe characters. */
export function bucketKey(pool: string, name: string): string {
  return digest(`${pool}\0${name}`);
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
