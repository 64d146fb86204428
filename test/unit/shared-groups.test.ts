/**
 * Unit tests of the shared subscription groups of the router
 * (src/main/router/shared-groups.ts): member choice per strategy, online members
 * first, sessions of different hosts with the same session id, redispatch,
 * and the removal of members (unsubscribe, drop, a failed host).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import type { SharedSubscriptionStrategy } from '../../src/api/config.js';
import type { SubscribeRequest } from '../../src/shared/channel/frames.js';
import { SharedGroups } from '../../src/main/router/shared-groups.js';
import { Interest } from '../../src/main/router/interest.js';
import { createLogger } from '../../src/shared/log.js';

const HOSTS = 2;
const SHARE = '$share/g/a/+';

function req(sid: number, qos: 0 | 1 | 2 = 2, filter = SHARE): SubscribeRequest {
  return { pool: '', sid, filter, qos, noLocal: false, retainAsPublished: false, subscriptionId: 0, sendRetained: false };
}

function message(topic = 'a/b', qos: 0 | 1 | 2 = 1): AppMessage {
  return { topic, payload: Buffer.from('x'), qos, retain: false };
}

function groups(strategy: SharedSubscriptionStrategy = 'round-robin'): SharedGroups {
  return new SharedGroups(strategy, new Interest(createLogger('silent', 'test')));
}

/** host:sid of the member picked for each of `count` messages. */
function picks(g: SharedGroups, count: number, topic = 'a/b'): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const byHost = g.match('', message(topic), HOSTS) ?? [];
    byHost.forEach((targets, host) => targets?.forEach((t) => out.push(`${host}:${t.sid}`)));
  }
  return out;
}

describe('SharedGroups', () => {
  test('round-robin: members take turns, across hosts, and the same session id on two hosts is two members', () => {
    const g = groups();
    g.subscribe(0, req(1), 'a/+');
    g.subscribe(1, req(1), 'a/+');
    g.subscribe(1, req(2), 'a/+');
    assert.deepEqual(picks(g, 6), ['0:1', '1:1', '1:2', '0:1', '1:1', '1:2']);
    assert.equal(g.size, 3);
  });

  test('the target carries the share, the member QoS capped by the message, its subscription id, Retain As Published', () => {
    const g = groups();
    g.subscribe(0, { ...req(1, 1), retainAsPublished: true, subscriptionId: 7 }, 'a/+');
    const [targets] = g.match('', { ...message('a/b', 2), retain: true }, HOSTS) ?? [];
    assert.deepEqual(targets, [{ sid: 1, qos: 1, retain: true, subscriptionIds: [7], share: SHARE }]);
  });

  test('a topic that does not match, or another pool, picks nobody', () => {
    const g = groups();
    g.subscribe(0, req(1), 'a/+');
    assert.equal(g.match('', message('b/c'), HOSTS), undefined);
    assert.equal(g.match('other', message('a/b'), HOSTS), undefined);
  });

  test('online members are preferred; with none online an offline one is picked', () => {
    const g = groups();
    g.subscribe(0, req(1), 'a/+');
    g.subscribe(0, req(2), 'a/+');
    g.setOnline(0, 1, false);
    assert.deepEqual(picks(g, 3), ['0:2', '0:2', '0:2']);
    g.setOnline(0, 2, false);
    assert.equal(picks(g, 2).length, 2);
    g.setOnline(0, 1, true);
    assert.deepEqual(picks(g, 2), ['0:1', '0:1']);
  });

  test('sticky: one member while it is online and subscribed, then the next one', () => {
    const g = groups('sticky');
    g.subscribe(0, req(1), 'a/+');
    g.subscribe(1, req(2), 'a/+');
    assert.deepEqual(picks(g, 3), ['0:1', '0:1', '0:1']);
    g.setOnline(0, 1, false);
    assert.deepEqual(picks(g, 2), ['1:2', '1:2']);
    g.setOnline(0, 1, true);
    assert.deepEqual(picks(g, 1), ['1:2'], 'the new sticky member keeps it');
    g.unsubscribe(1, '', 2, SHARE);
    assert.deepEqual(picks(g, 1), ['0:1']);
  });

  test('random: each message goes to exactly one member, online ones only while there are some', () => {
    const g = groups('random');
    for (let sid = 1; sid <= 3; sid++) g.subscribe(0, req(sid), 'a/+');
    g.setOnline(0, 3, false);
    const chosen = picks(g, 200);
    assert.equal(chosen.length, 200);
    assert.deepEqual([...new Set(chosen)].sort(), ['0:1', '0:2']);
  });

  test('redispatch picks another member, the sender only when it is the last one, nobody when the group is gone', () => {
    const g = groups();
    g.subscribe(0, req(1), 'a/+');
    g.subscribe(1, req(1), 'a/+');
    const other = g.redispatch(0, '', 1, SHARE, message());
    assert.equal(other?.host, 1);
    assert.equal(other?.target.share, SHARE);
    g.unsubscribe(1, '', 1, SHARE);
    assert.equal(g.redispatch(0, '', 1, SHARE, message())?.host, 0);
    g.drop(0, 1);
    assert.equal(g.redispatch(0, '', 1, SHARE, message()), undefined);
    assert.equal(g.size, 0);
    assert.equal(g.match('', message(), HOSTS), undefined);
  });

  test('subscribing again updates the member; clearHost removes the members of that host only', () => {
    const g = groups();
    g.subscribe(0, req(1, 2), 'a/+');
    g.subscribe(0, req(1, 0), 'a/+');
    g.subscribe(1, req(5), 'a/+');
    g.subscribe(1, req(5, 2, '$share/h/a/#'), 'a/#');
    assert.equal(g.size, 3);
    const [targets] = g.match('', message('a/b', 2), HOSTS) ?? [];
    assert.equal(targets?.[0]?.qos, 0);
    g.clearHost(1);
    assert.equal(g.size, 1);
    assert.deepEqual(picks(g, 2), ['0:1', '0:1']);
  });
});
