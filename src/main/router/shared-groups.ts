/**
 * Shared subscription groups (`$share/{group}/{filter}`, spec section 4.8.2):
 * per pool, every group with its members, which may live in any actor host.
 * Each matching message goes to one member, picked by the configured
 * strategy among the online members (offline ones only when none is online).
 * Owned by the router; main thread, never awaits.
 */
import type { AppMessage, QoS } from '../../shared/message/app-message.js';
import type { SharedSubscriptionStrategy } from '../../api/config.js';
import type { DeliveryTarget, SubscribeRequest } from '../../shared/channel/frames.js';
import { TopicTrie } from '../../shared/topic/topic-trie.js';
import { topicMatches } from '../../shared/topic/topic.js';
import type { Interest } from './interest.js';

interface Member {
  readonly host: number;
  readonly sid: number;
  qos: QoS;
  retainAsPublished: boolean;
  subscriptionId: number;
  online: boolean;
}

interface Group {
  readonly id: number;
  readonly pool: string;
  /** The whole filter as subscribed, `$share/{group}/{filter}`: the group's identity within its pool. */
  readonly share: string;
  /** The topic filter after the group name. */
  readonly filter: string;
  readonly members: Member[];
  /** Round-robin: index of the member to try first next time. */
  next: number;
  /** Sticky: the member that gets every message while it stays online and subscribed. */
  sticky: Member | undefined;
}

interface PoolGroups {
  readonly trie: TopicTrie<Group>;
  readonly byShare: Map<string, Group>;
}

/** One number per session across hosts (session ids are only unique within a host). */
function sessionKey(host: number, sid: number): number {
  return host * 0x1_0000_0000 + sid;
}

export class SharedGroups {
  private readonly pools = new Map<string, PoolGroups>();
  /** Session key → the groups it is a member of. */
  private readonly bySession = new Map<number, Set<Group>>();
  private nextGroupId = 1;
  private memberCount = 0;

  /** `interest` hears of every group created (its first member) and removed (its last). */
  constructor(
    private readonly strategy: SharedSubscriptionStrategy,
    private readonly interest: Interest,
  ) {}

  /** Members over all groups. */
  get size(): number {
    return this.memberCount;
  }

  /** Adds (or updates) session `req.sid` of `host` as a member of group `share`, whose topic filter is `filter`. */
  subscribe(host: number, req: SubscribeRequest, filter: string): void {
    let pool = this.pools.get(req.pool);
    if (!pool) {
      pool = { trie: new TopicTrie<Group>(), byShare: new Map() };
      this.pools.set(req.pool, pool);
    }
    let group = pool.byShare.get(req.filter);
    if (!group) {
      group = { id: this.nextGroupId++, pool: req.pool, share: req.filter, filter, members: [], next: 0, sticky: undefined };
      pool.byShare.set(req.filter, group);
      pool.trie.add(filter, group.id, group);
      this.interest.added(req.pool, req.filter);
    }
    const existing = group.members.find((m) => m.host === host && m.sid === req.sid);
    if (existing) {
      existing.qos = req.qos;
      existing.retainAsPublished = req.retainAsPublished;
      existing.subscriptionId = req.subscriptionId;
      existing.online = true;
      return;
    }
    group.members.push({
      host,
      sid: req.sid,
      qos: req.qos,
      retainAsPublished: req.retainAsPublished,
      subscriptionId: req.subscriptionId,
      online: true,
    });
    this.memberCount++;
    const key = sessionKey(host, req.sid);
    let groups = this.bySession.get(key);
    if (!groups) {
      groups = new Set();
      this.bySession.set(key, groups);
    }
    groups.add(group);
  }

  unsubscribe(host: number, pool: string, sid: number, share: string): void {
    const group = this.pools.get(pool)?.byShare.get(share);
    if (!group) return;
    const key = sessionKey(host, sid);
    this.removeMember(group, host, sid);
    const groups = this.bySession.get(key);
    groups?.delete(group);
    if (groups?.size === 0) this.bySession.delete(key);
  }

  /** Removes every membership of a session. */
  drop(host: number, sid: number): void {
    const key = sessionKey(host, sid);
    const groups = this.bySession.get(key);
    if (!groups) return;
    this.bySession.delete(key);
    for (const group of groups) this.removeMember(group, host, sid);
  }

  /** Removes every membership of the sessions of `host` (its worker died). */
  clearHost(host: number): void {
    for (const [key, groups] of this.bySession) {
      if (Math.floor(key / 0x1_0000_0000) !== host) continue;
      this.bySession.delete(key);
      const sid = key % 0x1_0000_0000;
      for (const group of groups) this.removeMember(group, host, sid);
    }
  }

  /** The session's transport came or went. */
  setOnline(host: number, sid: number, online: boolean): void {
    const groups = this.bySession.get(sessionKey(host, sid));
    if (!groups) return;
    for (const group of groups) {
      const member = group.members.find((m) => m.host === host && m.sid === sid);
      if (member) member.online = online;
    }
  }

  /**
   * Picks one member of every group of `pool` whose filter matches the topic of
   * `message`, and returns the targets per host; undefined when no group matched.
   */
  match(pool: string, message: AppMessage, hostCount: number): (DeliveryTarget[] | undefined)[] | undefined {
    const groups = this.pools.get(pool);
    if (!groups) return undefined;
    let byHost: (DeliveryTarget[] | undefined)[] | undefined;
    groups.trie.match(message.topic, (_id, group) => {
      const member = this.pick(group, undefined);
      if (!member) return;
      byHost ??= new Array<DeliveryTarget[] | undefined>(hostCount);
      (byHost[member.host] ??= []).push(targetFor(member, group, message));
    });
    return byHost;
  }

  /**
   * A message that session `sid` of `host` got for group `share` and gives
   * back: picks another member, or the same one when it is the only member
   * left. Returns the host and target, or undefined when the group is gone.
   */
  redispatch(
    host: number,
    pool: string,
    sid: number,
    share: string,
    message: AppMessage,
  ): { host: number; target: DeliveryTarget } | undefined {
    const group = this.pools.get(pool)?.byShare.get(share);
    if (!group) return undefined;
    const from = group.members.find((m) => m.host === host && m.sid === sid);
    const member = this.pick(group, from) ?? from;
    if (!member) return undefined;
    return { host: member.host, target: targetFor(member, group, message) };
  }

  /**
   * One member of group `share` of `pool` for `message`, picked as match()
   * picks; undefined when the group is gone or its filter does not match the
   * message's topic.
   */
  pickFor(pool: string, share: string, message: AppMessage): { host: number; target: DeliveryTarget } | undefined {
    const group = this.pools.get(pool)?.byShare.get(share);
    if (!group || !topicMatches(group.filter, message.topic)) return undefined;
    const member = this.pick(group, undefined);
    return member && { host: member.host, target: targetFor(member, group, message) };
  }

  /** The member that gets the next message, never `exclude`; online members first. */
  private pick(group: Group, exclude: Member | undefined): Member | undefined {
    switch (this.strategy) {
      case 'sticky': {
        const current = group.sticky;
        if (current && current.online && current !== exclude) return current;
        const chosen = this.nextInTurn(group, exclude, true);
        if (chosen) {
          group.sticky = chosen;
          return chosen;
        }
        return this.nextInTurn(group, exclude, false);
      }
      case 'random':
        return randomMember(group.members, exclude, true) ?? randomMember(group.members, exclude, false);
      default:
        return this.nextInTurn(group, exclude, true) ?? this.nextInTurn(group, exclude, false);
    }
  }

  /** Round robin: the first member from the group's turn on that qualifies; advances the turn. */
  private nextInTurn(group: Group, exclude: Member | undefined, onlineOnly: boolean): Member | undefined {
    const { members } = group;
    const n = members.length;
    for (let i = 0; i < n; i++) {
      const index = (group.next + i) % n;
      const m = members[index] as Member;
      if (m === exclude || (onlineOnly && !m.online)) continue;
      group.next = (index + 1) % n;
      return m;
    }
    return undefined;
  }

  private removeMember(group: Group, host: number, sid: number): void {
    const index = group.members.findIndex((m) => m.host === host && m.sid === sid);
    if (index < 0) return;
    const [member] = group.members.splice(index, 1);
    this.memberCount--;
    if (group.sticky === member) group.sticky = undefined;
    if (group.next > index) group.next--;
    if (group.next >= group.members.length) group.next = 0;
    if (group.members.length > 0) return;
    const groups = this.pools.get(group.pool);
    if (!groups) return;
    groups.byShare.delete(group.share);
    groups.trie.remove(group.filter, group.id);
    this.interest.removed(group.pool, group.share);
    if (groups.byShare.size === 0) this.pools.delete(group.pool);
  }
}

function targetFor(member: Member, group: Group, message: AppMessage): DeliveryTarget {
  return {
    sid: member.sid,
    qos: (member.qos < message.qos ? member.qos : message.qos) as QoS,
    retain: member.retainAsPublished && message.retain,
    subscriptionIds: member.subscriptionId ? [member.subscriptionId] : [],
    share: group.share,
  };
}

function randomMember(members: readonly Member[], exclude: Member | undefined, onlineOnly: boolean): Member | undefined {
  let count = 0;
  for (const m of members) if (m !== exclude && (!onlineOnly || m.online)) count++;
  if (count === 0) return undefined;
  let skip = Math.floor(Math.random() * count);
  for (const m of members) {
    if (m === exclude || (onlineOnly && !m.online)) continue;
    if (skip-- === 0) return m;
  }
  return undefined;
}
