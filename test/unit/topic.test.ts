/**
 * Unit tests for the topic validation helpers of src/shared/topic/topic.ts (main thread).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTopicFilter, isValidTopicName, parseSharedFilter, topicLevelCount } from '../../src/shared/topic/topic.js';

test('topic names: non-empty [MQTT-4.7.3-1], no wildcards [MQTT-3.3.2-2], no U+0000 [MQTT-4.7.3-2]', () => {
  for (const ok of ['a', '/', '//', 'a/b/c', '/finance', '$SYS/x', 'spaces are ok', 'ü/日本']) {
    assert.equal(isValidTopicName(ok), true, ok);
  }
  for (const bad of ['', '+', '#', 'a/+', 'a/#', 'a+b', 'a#', 'a\u0000b']) {
    assert.equal(isValidTopicName(bad), false, JSON.stringify(bad));
  }
});

test('topic filters: # only as the whole last level [MQTT-4.7.1-2]', () => {
  for (const ok of ['#', 'a/#', '/#', 'a/b/#', '+/#']) assert.equal(isValidTopicFilter(ok), true, ok);
  for (const bad of ['a#', 'a/#/b', '#/a', 'a/b#', '##', 'a/#/']) {
    assert.equal(isValidTopicFilter(bad), false, bad);
  }
});

test('topic filters: + only as a whole level [MQTT-4.7.1-3]', () => {
  for (const ok of ['+', '+/+', '/+', '+/', 'a/+/b', '+/a/#']) assert.equal(isValidTopicFilter(ok), true, ok);
  for (const bad of ['a+', '+a', 'a/b+/c', '++', 'a/+b']) assert.equal(isValidTopicFilter(bad), false, bad);
});

test('topic filters: non-empty [MQTT-4.7.3-1] and no U+0000 [MQTT-4.7.3-2]', () => {
  assert.equal(isValidTopicFilter(''), false);
  assert.equal(isValidTopicFilter('a/\u0000'), false);
  assert.equal(isValidTopicFilter('/'), true);
});

test('parseSharedFilter splits $share/{group}/{filter} [MQTT-4.8.2-1] [MQTT-4.8.2-2]', () => {
  assert.deepEqual(parseSharedFilter('$share/g/a/b'), { group: 'g', filter: 'a/b' });
  assert.deepEqual(parseSharedFilter('$share/g1/#'), { group: 'g1', filter: '#' });
  assert.deepEqual(parseSharedFilter('$share/g/+/x/#'), { group: 'g', filter: '+/x/#' });
  assert.deepEqual(parseSharedFilter('$share/g//'), { group: 'g', filter: '/' });
});

test('parseSharedFilter: undefined for non-shared filters', () => {
  for (const f of ['a/b', '#', '$SYS/#', '$share', '$sharex/g/a', 'x/$share/g/a']) {
    assert.equal(parseSharedFilter(f), undefined, f);
  }
});

test('parseSharedFilter: null for malformed shared filters', () => {
  for (const f of ['$share/', '$share//a', '$share/g', '$share/g/', '$share/g+/a', '$share/#/a', '$share/g/a#', '$share/g/a/#/b']) {
    assert.equal(parseSharedFilter(f), null, f);
  }
});

test('topicLevelCount', () => {
  assert.equal(topicLevelCount('a'), 1);
  assert.equal(topicLevelCount('a/b/c'), 3);
  assert.equal(topicLevelCount('/'), 2);
  assert.equal(topicLevelCount('/finance'), 2);
  assert.equal(topicLevelCount('a//'), 3);
});
