/**
 * MQTT topic name and topic filter validation (spec section 4.7) and the
 * parsing of shared subscription filters (`$share/{group}/{filter}`, 4.8.2);
 * the one definition of what a topic filter matches (4.7.1, 4.7.2), whose
 * rules the subscription trie and the retained store index apply; the
 * `$SYS` tree; and the default pool.
 * Pure functions; used on every thread.
 */

/** The prefix of a shared subscription's filter. */
export const SHARE_PREFIX = '$share/';

/** The pool of clients without a vhost or listener pool, and the one `$SYS/...` topics and `broker.publish` route in. */
export const DEFAULT_POOL = '';

/** Whether `topic` (a name or a filter) is in the broker's `$SYS` tree: routed in the default pool, published only by the broker. */
export function isSysTopic(topic: string): boolean {
  return topic === '$SYS' || topic.startsWith('$SYS/');
}

/** Whether a topic (or its first level) starts with `$`, which a first-level wildcard does not match [MQTT-4.7.2-1]. */
export function isDollarTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 0x24;
}

/**
 * Whether topic filter `filter` (valid, without a `$share/` prefix) matches
 * topic name `topic`: `+` matches exactly one level (an empty one too), `#`
 * the parent level and every level below it, and a topic starting with `$`
 * is not matched by a filter starting with a wildcard [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (isDollarTopic(topic) && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A topic name a PUBLISH may carry: non-empty, no wildcards, no U+0000. */
export function isValidTopicName(topic: string): boolean {
  // [MQTT-4.7.3-1] at least one character; [MQTT-3.3.2-2] no wildcard characters;
  // [MQTT-4.7.3-2] no null character.
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** A topic filter a SUBSCRIBE may carry. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  const last = levels.length - 1;
  for (let i = 0; i <= last; i++) {
    const level = levels[i]!;
    // [MQTT-4.7.1-2] '#' only as a whole level, and only the last one.
    if (level.includes('#') && (level !== '#' || i !== last)) return false;
    // [MQTT-4.7.1-3] '+' only as a whole level.
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/**
 * Splits a shared subscription filter `$share/{group}/{filter}`.
 * Returns undefined when `filter` is not a `$share/` filter at all, and null when
 * it is one but malformed: an empty group, a group holding `+` or `#`, or a
 * missing or invalid topic filter after the group.
 */
export function parseSharedFilter(filter: string): { group: string; filter: string } | undefined | null {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash <= SHARE_PREFIX.length) return null;
  const group = filter.slice(SHARE_PREFIX.length, slash);
  if (group.includes('+') || group.includes('#')) return null;
  const inner = filter.slice(slash + 1);
  if (!isValidTopicFilter(inner)) return null;
  return { group, filter: inner };
}

/** The number of levels in a topic name or filter: one more than its '/' count. */
export function topicLevelCount(topic: string): number {
  let count = 1;
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) count++;
  return count;
}
