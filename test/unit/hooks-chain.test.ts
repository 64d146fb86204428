/**
 * VerneMQ chain semantics of src/shared/hooks/chain.ts (all_till_ok and all: ok,
 * next, error, exhausted, no matching hook, a throwing or rejecting plugin,
 * synchronous chains staying synchronous) and the JSON form of hook
 * arguments and outcomes that crosses threads (src/shared/hooks/wire.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runAll, runAllTillOk, type NamedPlugin } from '../../src/shared/hooks/chain.js';
import { fromWire, toWire } from '../../src/shared/hooks/wire.js';
import { isPromise } from '../../src/shared/async.js';

function plugin(name: string, hooks: Record<string, (...args: unknown[]) => unknown>): NamedPlugin {
  return { name, hooks };
}

describe('all_till_ok', () => {
  test('the first ok ends the chain; later plugins are not called', () => {
    const called: string[] = [];
    const chain = [
      plugin('a', {
        h: () => {
          called.push('a');
          return 'next';
        },
      }),
      plugin('b', {
        h: () => {
          called.push('b');
          return 'ok';
        },
      }),
      plugin('c', {
        h: () => {
          called.push('c');
          return 'ok';
        },
      }),
    ];
    assert.deepEqual(runAllTillOk(chain, 'h', []), { kind: 'ok', plugin: 'b' });
    assert.deepEqual(called, ['a', 'b']);
  });

  test('{ ok: modifiers } carries the modifiers; the arguments are passed in position, with the plugin as this', () => {
    const chain: NamedPlugin[] = [
      plugin('a', {
        h(this: unknown, x: unknown, y: unknown): unknown {
          return { ok: { x, y, self: this === chain[0]?.hooks } };
        },
      }),
    ];
    assert.deepEqual(runAllTillOk(chain, 'h', [1, 'two']), { kind: 'ok', modifiers: { x: 1, y: 'two', self: true }, plugin: 'a' });
  });

  test('{ error } ends the chain with that reason', () => {
    const chain = [plugin('a', { h: () => ({ error: 'invalid_credentials' }) }), plugin('b', { h: () => 'ok' })];
    assert.deepEqual(runAllTillOk(chain, 'h', []), { kind: 'error', reason: 'invalid_credentials', plugin: 'a' });
  });

  test('any other answer is an error carrying it', () => {
    assert.deepEqual(runAllTillOk([plugin('a', { h: () => 42 })], 'h', []), { kind: 'error', reason: 42, plugin: 'a' });
    assert.deepEqual(runAllTillOk([plugin('a', { h: () => undefined })], 'h', []), { kind: 'error', reason: undefined, plugin: 'a' });
  });

  test('every plugin answering next exhausts the chain; no plugin with the hook is no_matching_hook', () => {
    assert.deepEqual(runAllTillOk([plugin('a', { h: () => 'next' }), plugin('b', { h: () => 'next' })], 'h', []), { kind: 'exhausted' });
    assert.deepEqual(runAllTillOk([plugin('a', { other: () => 'ok' })], 'h', []), { kind: 'no_matching_hook' });
    assert.deepEqual(runAllTillOk([], 'h', []), { kind: 'no_matching_hook' });
  });

  test('a throwing plugin is an error, and the plugins after it are not called', () => {
    const boom = new Error('boom');
    let later = false;
    const outcome = runAllTillOk(
      [
        plugin('a', {
          h: () => {
            throw boom;
          },
        }),
        plugin('b', {
          h: () => {
            later = true;
            return 'ok';
          },
        }),
      ],
      'h',
      [],
    );
    assert.deepEqual(outcome, { kind: 'error', reason: boom, plugin: 'a' });
    assert.equal(later, false);
  });

  test('a synchronous chain answers synchronously (no promise, no microtask)', () => {
    const outcome = runAllTillOk([plugin('a', { h: () => 'next' }), plugin('b', { h: () => ({ ok: 1 }) })], 'h', []);
    assert.equal(isPromise(outcome), false);
  });

  test('an asynchronous plugin makes the chain a promise; next goes on to the following plugins in order', async () => {
    const called: string[] = [];
    const chain = [
      plugin('a', {
        h: async () => {
          called.push('a');
          return 'next';
        },
      }),
      plugin('b', {
        h: () => {
          called.push('b');
          return 'next';
        },
      }),
      plugin('c', {
        h: async () => {
          called.push('c');
          return { ok: 'mods' };
        },
      }),
    ];
    const outcome = runAllTillOk(chain, 'h', []);
    assert.equal(isPromise(outcome), true);
    assert.deepEqual(await outcome, { kind: 'ok', modifiers: 'mods', plugin: 'c' });
    assert.deepEqual(called, ['a', 'b', 'c']);
  });

  test('a rejected promise is an error of that plugin; an async chain of next is exhausted', async () => {
    const boom = new Error('async boom');
    assert.deepEqual(await runAllTillOk([plugin('a', { h: () => Promise.reject(boom) })], 'h', []), {
      kind: 'error',
      reason: boom,
      plugin: 'a',
    });
    assert.deepEqual(await runAllTillOk([plugin('a', { h: async () => 'next' })], 'h', []), { kind: 'exhausted' });
  });
});

describe('all', () => {
  test('every plugin is called in order, answers ignored, a throwing plugin reported and the rest still called', () => {
    const called: string[] = [];
    const errors: string[] = [];
    const result = runAll(
      [
        plugin('a', {
          h: (x: unknown) => {
            called.push(`a${String(x)}`);
            return { error: 'ignored' };
          },
        }),
        plugin('b', {
          h: () => {
            throw new Error('b failed');
          },
        }),
        plugin('c', {
          h: (x: unknown) => {
            called.push(`c${String(x)}`);
          },
        }),
        plugin('d', {}),
      ],
      'h',
      [1],
      (name, err) => errors.push(`${name}: ${(err as Error).message}`),
    );
    assert.equal(result, undefined, 'a synchronous all chain returns nothing');
    assert.deepEqual(called, ['a1', 'c1']);
    assert.deepEqual(errors, ['b: b failed']);
  });

  test('an asynchronous plugin makes the chain a promise that settles when all have; a rejection is reported', async () => {
    const errors: string[] = [];
    let slowDone = false;
    const result = runAll(
      [
        plugin('slow', {
          h: () =>
            new Promise<void>((resolve) =>
              setImmediate(() => {
                slowDone = true;
                resolve();
              }),
            ),
        }),
        plugin('bad', { h: () => Promise.reject(new Error('nope')) }),
      ],
      'h',
      [],
      (name) => errors.push(name),
    );
    assert.equal(isPromise(result), true);
    await result;
    assert.equal(slowDone, true);
    assert.deepEqual(errors, ['bad']);
  });
});

describe('hook arguments across threads', () => {
  test('Buffers, Uint8Arrays, undefined positions and Errors survive the JSON form', () => {
    const args = [
      { address: '127.0.0.1', port: 1 },
      { mountpoint: '', clientId: 'c' },
      undefined,
      Buffer.from('pw'),
      true,
      { correlationData: new Uint8Array([1, 2]) },
    ];
    const back = fromWire(toWire(args)) as unknown[];
    assert.equal(back.length, 6);
    assert.deepEqual(back[0], { address: '127.0.0.1', port: 1 });
    assert.equal(back[2], undefined);
    assert.ok(Buffer.isBuffer(back[3]));
    assert.equal((back[3] as Buffer).toString(), 'pw');
    assert.deepEqual([...(back[5] as { correlationData: Buffer }).correlationData], [1, 2]);
    const outcome = fromWire(toWire({ kind: 'error', reason: new Error('denied'), plugin: 'p' })) as { reason: Error };
    assert.ok(outcome.reason instanceof Error);
    assert.equal(outcome.reason.message, 'denied');
  });

  test('a Buffer that is a view into a larger one travels as its own bytes', () => {
    const big = Buffer.from('xxhelloyy');
    const back = fromWire(toWire({ payload: big.subarray(2, 7) })) as { payload: Buffer };
    assert.equal(back.payload.toString(), 'hello');
  });
});
