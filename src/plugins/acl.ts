/**
 * Bundled plugin `shoal/acl` (as vmq_acl / mosquitto's acl_file):
 * auth_on_publish(_m5) and auth_on_subscribe(_m5) against an ACL file.
 *
 *   plugins: [{ module: 'shoal/acl', options: { file: './acl' } }]
 *
 * The file, one rule a line ('#' comments and empty lines skipped):
 *
 *   topic [read|write|readwrite] FILTER     (access defaults to readwrite)
 *   user NAME                               (the topic lines below are NAME's)
 *   pattern [read|write|readwrite] FILTER   (every client; %u = username, %c = client id)
 *   pool NAME                               (the lines below are pool NAME's)
 *
 * Rules are per pool (the session's mountpoint): those before the first
 * `pool` line are the default pool's (''), those after `pool NAME` (up to
 * the next `pool` line) pool NAME's; a pool without rules allows nothing.
 * Within a pool, `topic` lines before its first `user` line apply to
 * clients without a username. A pattern with %u does not apply to a client without a username,
 * and a pattern whose username or client id holds '+', '#' or '/' does not
 * apply at all (so nobody widens a pattern with a crafted name).
 *
 * PUBLISH (and the will) is allowed when a write or readwrite filter matches
 * its topic ('ok'), refused otherwise (`{ error: 'not_allowed' }`). Each
 * filter of a SUBSCRIBE (a `$share/{group}/` prefix set aside) is allowed
 * when a read or readwrite filter covers it, the same filter or a wider one
 * by wildcard (`a/#` covers `a/+/c` and `a/#`; `a/+` does not cover `a/#`);
 * the others get `not_allowed`. Matching uses the router's TopicTrie, so the
 * MQTT rules hold (a filter starting with a wildcard does not match `$`
 * topics).
 *
 * Reload: the file is re-read when it changes (checked at most once per
 * second, on a hook call) or on SIGHUP to the `shoal` process; see
 * watched-file.ts. Connected clients stay connected; their later packets see
 * the new rules. Runs in every actor host.
 */
import type { QoS } from '../shared/message/app-message.js';
import type { HookReturn } from '../shared/hooks/chain.js';
import type { Plugin, PluginContext, PublishModifiers, SubscribeModifiers, SubscribeTopic, SubscriberId } from '../api/hooks.js';
import { isValidTopicFilter, parseSharedFilter } from '../shared/topic/topic.js';
import { TopicTrie } from '../shared/topic/topic-trie.js';
import { fileOption, WatchedFile } from './watched-file.js';

type Access = 'read' | 'write' | 'readwrite';
interface Rule {
  access: Access;
  filter: string;
}

/** The rules of one pool. */
export interface Acl {
  /** `topic` rules of clients without a username. */
  anonymous: Rule[];
  /** `topic` rules by username. */
  users: Map<string, Rule[]>;
  /** `pattern` rules, with %u and %c unsubstituted. */
  patterns: Rule[];
}

const ACCESS = new Set<string>(['read', 'write', 'readwrite']);

/** The rules of an ACL file, by pool. */
export type AclFile = Map<string, Acl>;

/** Parses an ACL file; throws on a malformed line, naming it. */
export function parseAclFile(text: string, file = 'ACL file'): AclFile {
  const pools: AclFile = new Map();
  const poolAcl = (name: string): Acl => {
    let acl = pools.get(name);
    if (!acl) {
      acl = { anonymous: [], users: new Map(), patterns: [] };
      pools.set(name, acl);
    }
    return acl;
  };
  let acl = poolAcl('');
  let current = acl.anonymous;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (what: string): never => {
      throw new SyntaxError(`${file}:${i + 1}: ${what}`);
    };
    const space = line.search(/\s/);
    const keyword = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space).trim();
    if (keyword === 'pool') {
      if (rest === '') fail('expected pool NAME');
      acl = poolAcl(rest);
      current = acl.anonymous;
      return;
    }
    if (keyword === 'user') {
      if (rest === '') fail('expected user NAME');
      current = acl.users.get(rest) ?? [];
      acl.users.set(rest, current);
      return;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') fail(`unknown keyword "${keyword}" (expected topic, user, pattern or pool)`);
    const word = rest.split(/\s/, 1)[0] ?? '';
    const access: Access = ACCESS.has(word) ? (word as Access) : 'readwrite';
    const filter = ACCESS.has(word) ? rest.slice(word.length).trim() : rest;
    if (!isValidTopicFilter(filter)) fail(`invalid topic filter "${filter}"`);
    (keyword === 'topic' ? current : acl.patterns).push({ access, filter });
  });
  return pools;
}

const NO_RULES: Acl = { anonymous: [], users: new Map(), patterns: [] };

/** The read and write filters of one client, in tries. */
interface Compiled {
  read: TopicTrie<true>;
  write: TopicTrie<true>;
}

function compile(rules: readonly Rule[]): Compiled {
  const compiled: Compiled = { read: new TopicTrie(), write: new TopicTrie() };
  for (const { access, filter } of rules) {
    if (access !== 'write') compiled.read.add(filter, 0, true);
    if (access !== 'read') compiled.write.add(filter, 0, true);
  }
  return compiled;
}

/** A pattern's filter for this client, or undefined when it does not apply. */
function substitute(filter: string, username: string | undefined, clientId: string): string | undefined {
  const unsafe = (value: string): boolean => /[+#/]/.test(value);
  if (filter.includes('%u') && (username === undefined || unsafe(username))) return undefined;
  if (filter.includes('%c') && unsafe(clientId)) return undefined;
  return filter.replaceAll('%u', username ?? '').replaceAll('%c', clientId);
}

/** The rules of one client: its `topic` lines and the patterns substituted for it. */
function rulesFor(acl: Acl, username: string | undefined, clientId: string): Rule[] {
  const own = username === undefined ? acl.anonymous : (acl.users.get(username) ?? []);
  const patterns: Rule[] = [];
  for (const { access, filter } of acl.patterns) {
    const concrete = substitute(filter, username, clientId);
    if (concrete !== undefined && isValidTopicFilter(concrete)) patterns.push({ access, filter: concrete });
  }
  return [...own, ...patterns];
}

/** Whether `trie` holds a filter covering the subscription filter `filter`. */
function covers(trie: TopicTrie<true>, filter: string): boolean {
  // The trie matches the filter's levels as if they were a topic name: its `+`
  // and `#` match a rule's `+` (one level) and `#`. A filter ending in `#`
  // is covered only by a rule with `#` at that level or above it.
  const levels = filter.split('/');
  const hashAt = levels[levels.length - 1] === '#' ? levels.length - 1 : -1;
  let found = false;
  trie.match(filter, (_key, _value, rule) => {
    if (found) return;
    if (hashAt < 0) {
      found = true;
      return;
    }
    const ruleHash = rule.split('/').indexOf('#');
    if (ruleHash >= 0 && ruleHash <= hashAt) found = true;
  });
  return found;
}

function matches(trie: TopicTrie<true>, topic: string): boolean {
  let found = false;
  trie.match(topic, () => {
    found = true;
  });
  return found;
}

/** Compiled rules per client, rebuilt after a reload; bounded. */
const CACHE_LIMIT = 10_000;

export default function createAclPlugin({ options, log }: PluginContext): Plugin {
  const file = fileOption(options, 'shoal/acl');
  const watched = new WatchedFile(file, (text) => parseAclFile(text, file), log);
  let cacheOf: AclFile | undefined;
  const cache = new Map<string, Compiled>();
  const compiledFor = (username: string | undefined, sid: SubscriberId): Compiled => {
    const acl = watched.current();
    if (cacheOf !== acl) {
      cache.clear();
      cacheOf = acl;
    }
    const key = `${sid.mountpoint}\u0000${username === undefined ? '' : `u${username}`}\u0000${sid.clientId}`;
    let compiled = cache.get(key);
    if (compiled === undefined) {
      if (cache.size >= CACHE_LIMIT) cache.clear();
      compiled = compile(rulesFor(acl.get(sid.mountpoint) ?? NO_RULES, username, sid.clientId));
      cache.set(key, compiled);
    }
    return compiled;
  };
  const publish = (username: string | undefined, sid: SubscriberId, topic: string): HookReturn<PublishModifiers> =>
    matches(compiledFor(username, sid).write, topic) ? 'ok' : { error: 'not_allowed' };
  const subscribe = (username: string | undefined, sid: SubscriberId, topics: SubscribeTopic[]): HookReturn<SubscribeModifiers> => {
    const { read } = compiledFor(username, sid);
    const answer: SubscribeModifiers = topics.map(({ topic, qos }) => {
      const inner = parseSharedFilter(topic);
      const filter = inner === undefined ? topic : inner?.filter;
      const allowed = filter !== undefined && covers(read, filter);
      return { topic, qos: allowed ? qos : ('not_allowed' as QoS | 'not_allowed') };
    });
    return answer.every((t) => t.qos !== 'not_allowed') ? 'ok' : { ok: answer };
  };
  return {
    name: 'shoal/acl',
    auth_on_publish: (username, sid, _qos, topic) => publish(username, sid, topic),
    auth_on_publish_m5: (username, sid, _qos, topic) => publish(username, sid, topic),
    auth_on_subscribe: (username, sid, topics) => subscribe(username, sid, topics),
    auth_on_subscribe_m5: (username, sid, topics) => subscribe(username, sid, topics),
  };
}
