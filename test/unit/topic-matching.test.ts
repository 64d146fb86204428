/**
 * One definition of topic matching (src/shared/topic/topic.ts topicMatches)
 * and the two indexes that apply its rules: the subscription trie (filters
 * indexed, a topic name looked up) and the retained store (topic names
 * indexed, a filter looked up). For random filters and topic names over a
 * small alphabet (empty levels and `$` topics included), both indexes answer
 * exactly what topicMatches says. Fixed seed, so a failure reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isValidTopicFilter, topicMatches } from '../../src/shared/topic/topic.js';
import { TopicTrie } from '../../src/shared/topic/topic-trie.js';
import { RetainedTopics } from '../../src/main/router/retained-store.js';

const level = fc.constantFrom('a', 'b', '', '$sys', 'x y');
const topicName = fc.array(level, { minLength: 1, maxLength: 4 }).map((levels) => levels.join('/'));
const filter = fc
  .array(fc.constantFrom('a', 'b', '', '$sys', '+'), { minLength: 1, maxLength: 4 })
  .chain((levels) => fc.boolean().map((hash) => (hash ? [...levels, '#'] : levels).join('/')))
  .filter(isValidTopicFilter);

const RUNS = { seed: 20261207, numRuns: 300 };

test('[MQTT-4.7.1-1] [MQTT-4.7.2-1] the subscription trie matches a topic name exactly where topicMatches does', () => {
  fc.assert(
    fc.property(fc.uniqueArray(filter, { maxLength: 12 }), topicName, (filters, topic) => {
      const trie = new TopicTrie<string>();
      filters.forEach((f, key) => trie.add(f, key, f));
      const found: string[] = [];
      trie.match(topic, (_key, value) => found.push(value));
      assert.deepEqual(found.sort(), filters.filter((f) => topicMatches(f, topic)).sort());
    }),
    RUNS,
  );
});

test('[MQTT-4.7.1-1] [MQTT-4.7.2-1] the retained store finds for a filter exactly the topic names topicMatches accepts', () => {
  fc.assert(
    fc.property(fc.uniqueArray(topicName, { maxLength: 12 }), filter, (topics, f) => {
      const store = new RetainedTopics({ maxMemoryBytes: 1 << 20 });
      for (const topic of topics) store.set({ topic, payload: Buffer.from('r'), qos: 0, retain: true }, 0);
      const found: string[] = [];
      store.match(f, 0, (msg) => found.push(msg.topic));
      assert.deepEqual(found.sort(), topics.filter((topic) => topicMatches(f, topic)).sort());
    }),
    RUNS,
  );
});
