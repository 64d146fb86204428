/**
 * Unit tests for the subscription trie of src/shared/topic/topic-trie.ts (main thread):
 * wildcard semantics, add/replace/remove with pruning, and a randomized
 * cross-check against a naive matcher.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie } from '../../src/shared/topic/topic-trie.js';
import { seededRandom } from '../helpers/random.js';

/** [filter, topic, matches] */
const WILDCARD_TABLE: ReadonlyArray<[string, string, boolean]> = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis', true],
  ['#', 'a', true],
  ['#', '/', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/tennis/+', 'sport/tennis', false],
  ['sport/+', 'sport/', true],
  ['sport/+', 'sport', false],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+', 'a', true],
  ['+/#', 'a', true],
  ['a/+/c', 'a/b/c', true],
  ['a/+/c', 'a//c', true],
  ['a/b', 'a/b', true],
  ['a/b', 'a/b/c', false],
  ['a/b', 'A/b', false],
  ['a/b/c', 'a/b', false],
  ['#', '$SYS/x', false],
  ['+/x', '$SYS/x', false],
  ['+/#', '$SYS/x', false],
  ['$SYS/#', '$SYS/x', true],
  ['$SYS/+', '$SYS/x', true],
  ['$SYS/x', '$SYS/x', true],
  ['a/$x', 'a/$x', true],
  ['a/+', 'a/$x', true],
  ['a/#', 'a/$x', true],
];

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function matched<V>(trie: TopicTrie<V>, topic: string): Array<[number, V, string]> {
  const out: Array<[number, V, string]> = [];
  trie.match(topic, (key, value, filter) => out.push([key, value, filter]));
  return out.sort((x, y) => x[0] - y[0] || cmp(x[2], y[2]));
}

test('wildcard semantics table, including $-topics [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1]', () => {
  for (const [filter, topic, expected] of WILDCARD_TABLE) {
    const trie = new TopicTrie<string>();
    trie.add(filter, 1, 'v');
    const got = matched(trie, topic);
    assert.deepEqual(got, expected ? [[1, 'v', filter]] : [], `${filter} vs ${topic}`);
  }
});

test('the whole table in one trie matches each topic with the right filters', () => {
  const trie = new TopicTrie<string>();
  const filters = [...new Set(WILDCARD_TABLE.map(([f]) => f))];
  filters.forEach((f, i) => trie.add(f, i, f));
  for (const [filter, topic, expected] of WILDCARD_TABLE) {
    const hit = matched(trie, topic).some(([, , f]) => f === filter);
    assert.equal(hit, expected, `${filter} vs ${topic}`);
  }
});

test('add returns true for a new (filter, key) and false when replacing; size counts entries', () => {
  const trie = new TopicTrie<string>();
  assert.equal(trie.add('a/b', 1, 'x'), true);
  assert.equal(trie.add('a/b', 2, 'y'), true);
  assert.equal(trie.add('a/#', 1, 'z'), true);
  assert.equal(trie.add('a/b', 1, 'x2'), false);
  assert.equal(trie.size, 3);
  assert.deepEqual(matched(trie, 'a/b'), [
    [1, 'z', 'a/#'],
    [1, 'x2', 'a/b'],
    [2, 'y', 'a/b'],
  ]);
});

test('remove deletes one entry, reports whether it existed, and prunes empty nodes', () => {
  const trie = new TopicTrie<number>();
  trie.add('a/b/c', 1, 1);
  trie.add('a/+/c', 1, 2);
  trie.add('a/#', 2, 3);
  trie.add('#', 3, 4);
  assert.equal(trie.remove('a/b/c', 2), false);
  assert.equal(trie.remove('a/b', 1), false);
  assert.equal(trie.remove('x/y', 1), false);
  assert.equal(trie.remove('a/b/c', 1), true);
  assert.equal(trie.remove('a/b/c', 1), false);
  assert.deepEqual(
    matched(trie, 'a/b/c').map(([k]) => k),
    [1, 2, 3],
  );
  assert.equal(trie.remove('a/+/c', 1), true);
  assert.equal(trie.remove('a/#', 2), true);
  assert.equal(trie.remove('#', 3), true);
  assert.equal(trie.size, 0);
  assert.deepEqual([...trie.entries()], []);
  // After pruning, the trie behaves as new.
  assert.equal(trie.add('a/b/c', 1, 9), true);
  assert.deepEqual(matched(trie, 'a/b/c'), [[1, 9, 'a/b/c']]);
});

test('pruning keeps nodes still used by other filters', () => {
  const trie = new TopicTrie<number>();
  trie.add('a/b', 1, 1);
  trie.add('a/b/c', 1, 2);
  trie.add('a/b/#', 1, 3);
  assert.equal(trie.remove('a/b/c', 1), true);
  assert.deepEqual(matched(trie, 'a/b'), [
    [1, 1, 'a/b'],
    [1, 3, 'a/b/#'],
  ]);
  assert.equal(trie.remove('a/b', 1), true);
  assert.deepEqual(matched(trie, 'a/b/c'), [[1, 3, 'a/b/#']]);
});

test('entries lists every (filter, key, value)', () => {
  const trie = new TopicTrie<string>();
  const want: Array<[string, number, string]> = [
    ['#', 1, 'h'],
    ['+', 2, 'p'],
    ['a/+/#', 3, 'x'],
    ['a/b', 4, 'y'],
    ['a/b', 5, 'z'],
    ['/', 6, 's'],
  ];
  for (const [f, k, v] of want) trie.add(f, k, v);
  const key = (e: [string, number, string]) => `${e[0]}|${e[1]}`;
  assert.deepEqual(
    [...trie.entries()].sort((x, y) => cmp(key(x), key(y))),
    want.sort((x, y) => cmp(key(x), key(y))),
  );
});

/** Reference matcher straight from spec section 4.7. */
function naiveMatch(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

test('randomized cross-check against a naive matcher (seeded) [MQTT-4.7.2-1]', () => {
  const rand = seededRandom(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const names = ['a', 'b', 'c', '', '$s'];
  const randomTopic = (): string => {
    const n = 1 + Math.floor(rand() * 4);
    return Array.from({ length: n }, () => pick(names)).join('/');
  };
  const randomFilter = (): string => {
    const n = 1 + Math.floor(rand() * 4);
    const levels = Array.from({ length: n }, () => (rand() < 0.3 ? '+' : pick(names)));
    if (rand() < 0.25) levels[n - 1] = '#';
    return levels.join('/');
  };

  const trie = new TopicTrie<string>();
  const filters: string[] = [];
  for (let key = 0; key < 400; key++) {
    const f = randomFilter();
    filters.push(f);
    trie.add(f, key, f);
  }
  // Remove a third of them again, to exercise pruning under the cross-check.
  for (let key = 0; key < 400; key += 3) assert.equal(trie.remove(filters[key]!, key), true);
  const live = filters.map((f, key) => ({ f, key })).filter(({ key }) => key % 3 !== 0);
  assert.equal(trie.size, live.length);

  for (let n = 0; n < 400; n++) {
    const topic = randomTopic();
    const want = live
      .filter(({ f }) => naiveMatch(f, topic))
      .map(({ key }) => key)
      .sort((x, y) => x - y);
    const got: number[] = [];
    trie.match(topic, (key, value, filter) => {
      assert.equal(value, filter);
      assert.equal(filter, filters[key]);
      got.push(key);
    });
    assert.deepEqual(
      got.sort((x, y) => x - y),
      want,
      `topic ${JSON.stringify(topic)}`,
    );
  }
});
