/**
 * Unit tests of the per-connection Topic Alias tables (workers/session/topic-alias.ts):
 * inbound checks and resolution, outbound assignment within the capacity and
 * reuse of the least recently used alias.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { InboundAliases, OutboundAliases } from '../../workers/session/topic-alias.js';

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.reasonCode;
    throw err;
  }
  return undefined;
}

describe('InboundAliases', () => {
  test('defines, resolves and redefines aliases', () => {
    const a = new InboundAliases(3);
    assert.equal(a.resolve(1, 'x/y'), 'x/y');
    assert.equal(a.resolve(1, ''), 'x/y');
    assert.equal(a.resolve(1, 'z'), 'z');
    assert.equal(a.resolve(1, ''), 'z');
  });

  test('0 and values above the maximum are 0x94; an unknown alias with an empty topic is 0x82', () => {
    const a = new InboundAliases(3);
    assert.equal(
      code(() => a.resolve(0, 't')),
      0x94,
    );
    assert.equal(
      code(() => a.resolve(4, 't')),
      0x94,
    );
    assert.equal(
      code(() => a.resolve(2, '')),
      0x82,
    );
  });
});

describe('OutboundAliases', () => {
  /** Sends `topics` through the table; returns [alias, topic-or-empty] per send. */
  function send(table: OutboundAliases, topics: string[]): Array<[number, string]> {
    return topics.map((t) => {
      const choice = table.choose(t);
      table.commit(t, choice);
      return [choice.alias, choice.known ? '' : t];
    });
  }

  test('assigns 1..capacity, then reuses the least recently used alias', () => {
    const table = new OutboundAliases(2);
    assert.deepEqual(send(table, ['a', 'a', 'b', 'a', 'c', 'a', 'b']), [
      [1, 'a'],
      [1, ''],
      [2, 'b'],
      [1, ''],
      [2, 'c'],
      [1, ''],
      [2, 'b'],
    ]);
  });

  test('choose() changes nothing until commit()', () => {
    const table = new OutboundAliases(1);
    table.choose('a');
    assert.deepEqual(table.choose('b'), { alias: 1, known: false, evicts: undefined });
    table.commit('b', table.choose('b'));
    assert.deepEqual(table.choose('a'), { alias: 1, known: false, evicts: 'b' });
  });
});
