/**
 * The main thread's record of acknowledgements waiting for commits
 * (src/main/acknowledgements.ts): a publish is released to its host once
 * every host it was delivered to reported its commit and the retained
 * store's write settled; at once when nothing keeps it; as not kept when a
 * report says the commit failed, when the retained write rejects, or when a
 * host it waits for fails; never when its own host failed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Acknowledgements } from '../../src/main/acknowledgements.js';

function record(): { acks: Acknowledgements; released: Array<[number, number, boolean]> } {
  const released: Array<[number, number, boolean]> = [];
  return { acks: new Acknowledgements((host, ackId, ok) => released.push([host, ackId, ok])), released };
}

/** Routes publish `ackId` of `host` to `targets` (hosts), as DataPlane does; the tokens of the deliver frames. */
function route(acks: Acknowledgements, host: number, ackId: number, targets: number[], retained?: Promise<void>): number[] {
  acks.routingStarts(host, ackId);
  const tokens = targets.map((target) => acks.tokenFor(target));
  if (retained) acks.waitFor(retained);
  acks.routed();
  return tokens;
}

describe('acknowledgements waiting for commits', () => {
  test('a publish delivered nowhere and not retained is released at once', () => {
    const { acks, released } = record();
    route(acks, 0, 7, []);
    assert.deepEqual(released, [[0, 7, true]]);
    assert.equal(acks.size, 0);
  });

  test('released once every host it was delivered to reported, not before', () => {
    const { acks, released } = record();
    const [t1, t2] = route(acks, 0, 1, [1, 2]);
    assert.equal(t1, t2, 'one token per publish');
    acks.committed(1, [t1!], true);
    assert.deepEqual(released, []);
    acks.committed(2, [t2!], true);
    assert.deepEqual(released, [[0, 1, true]]);
  });

  test('deliver frames written outside a routing carry no token', () => {
    const { acks } = record();
    assert.equal(acks.tokenFor(1), 0);
  });

  test('a failed commit on one host releases it as not kept', () => {
    const { acks, released } = record();
    const [t1, t2] = route(acks, 0, 3, [1, 2]);
    acks.committed(1, [t1!], false);
    acks.committed(2, [t2!], true);
    assert.deepEqual(released, [[0, 3, false]]);
  });

  test('a retained write is waited for; its rejection releases the publish as not kept', async () => {
    const { acks, released } = record();
    let keep!: () => void;
    route(acks, 0, 4, [], new Promise<void>((resolve) => (keep = resolve)));
    route(acks, 0, 5, [], Promise.reject(new Error('disk full')));
    assert.deepEqual(released, []);
    keep();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(released, [
      [0, 5, false],
      [0, 4, true],
    ]);
  });

  test('a host that fails before reporting releases what waited for it as not kept; its own publishes are forgotten', () => {
    const { acks, released } = record();
    const [toFailed] = route(acks, 0, 8, [1]);
    route(acks, 1, 9, [2]);
    acks.hostFailed(1);
    assert.deepEqual(released, [[0, 8, false]]);
    acks.committed(1, [toFailed!], true);
    assert.equal(acks.size, 0, 'nothing left waiting');
    assert.deepEqual(released, [[0, 8, false]], 'a late report changes nothing');
  });
});
