/**
 * The `$SYS/broker/load/...` moving averages (src/main/observe/load-average.ts):
 * per minute, over 1, 5 and 15 minutes, exponentially weighted by the time
 * between two publications, as Mosquitto's are.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadAverages } from '../../src/main/observe/load-average.js';

describe('load averages', () => {
  test('the first reading has nothing to average: every window reads 0', () => {
    const loads = new LoadAverages();
    assert.deepEqual(loads.update({ 'messages/received': 500 }, 0), [
      ['messages/received/1min', 0],
      ['messages/received/5min', 0],
      ['messages/received/15min', 0],
    ]);
  });

  test('a steady rate is approached fastest by the 1-minute window, and reached by all of them in time', () => {
    const loads = new LoadAverages();
    loads.update({ bytes: 0 }, 0);
    // 100 per second = 6,000 per minute, read every 10 s.
    let averages: Array<[string, number]> = [];
    for (let t = 1; t <= 6; t++) averages = loads.update({ bytes: 1000 * t }, t * 10_000);
    const [one, five, fifteen] = averages.map(([, v]) => v);
    // After 60 s: 1 - e^-1 of the rate for the 1-minute window, 1 - e^-0.2 for 5 minutes, 1 - e^(-1/15) for 15.
    assert.ok(Math.abs(one! - 6000 * (1 - Math.exp(-1))) < 1, `1min ${one}`);
    assert.ok(Math.abs(five! - 6000 * (1 - Math.exp(-0.2))) < 1, `5min ${five}`);
    assert.ok(Math.abs(fifteen! - 6000 * (1 - Math.exp(-1 / 15))) < 1, `15min ${fifteen}`);
    for (let t = 7; t <= 600; t++) averages = loads.update({ bytes: 1000 * t }, t * 10_000);
    for (const [name, value] of averages) assert.ok(Math.abs(value - 6000) < 30, `${name} ${value}`);
  });

  test('a counter that went back (a restarted host) counts as no traffic, never as negative', () => {
    const loads = new LoadAverages();
    loads.update({ connections: 50 }, 0);
    const after = loads.update({ connections: 10 }, 10_000);
    for (const [, value] of after) assert.equal(value, 0);
  });
});
