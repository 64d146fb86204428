/**
 * Micro-benchmarks for the subscription trie (src/shared/topic/topic-trie.ts, main
 * thread): insertion, and matching against tries of 1k, 100k and (with
 * `large`, run.ts `--large`: seconds to build, ~800 MB) 1M subscriptions, of
 * which about 10% use `+` or `#`. The tries are built once, when the tasks are
 * registered, outside the timed functions.
 */
import type { Bench } from 'tinybench';
import { TopicTrie } from '../../src/shared/topic/topic-trie.js';

/**
 * The i-th subscription filter: mostly exact device topics, every tenth a
 * wildcard (`+` or `#`) that still names one device, so a match visits only a
 * few entries and the timing is the walk, not the fan-out.
 */
function filterFor(i: number): string {
  switch (i % 20) {
    case 0:
      return `+/dev${i}/telemetry`;
    case 10:
      return `site${i % 100}/dev${i}/#`;
    default:
      return `site${i % 100}/dev${i}/telemetry`;
  }
}

function buildTrie(subscriptions: number): TopicTrie<number> {
  const trie = new TopicTrie<number>();
  for (let i = 0; i < subscriptions; i++) trie.add(filterFor(i), i, i);
  return trie;
}

export async function register(bench: Bench, options: { large?: boolean } = {}): Promise<void> {
  let inserted = new TopicTrie<number>();
  let next = 0;
  bench.add(
    'topic-trie: insert',
    () => {
      inserted.add(filterFor(next), next, next);
      next++;
    },
    {
      beforeAll: () => {
        inserted = new TopicTrie<number>();
        next = 0;
      },
    },
  );

  for (const subscriptions of options.large ? [1_000, 100_000, 1_000_000] : [1_000, 100_000]) {
    const trie = buildTrie(subscriptions);
    const topics = Array.from({ length: 1024 }, (_, j) => {
      const i = (j * 7919) % subscriptions;
      return `site${i % 100}/dev${i}/telemetry`;
    });
    let j = 0;
    let matches = 0;
    const visit = (): void => {
      matches++;
    };
    bench.add(`topic-trie: match, ${subscriptions} subscriptions`, () => {
      trie.match(topics[j++ & 1023]!, visit);
    });
  }
}
