/**
 * The `shoal` command's flags (src/main/cli/args.ts): a port flag takes the
 * -1 (off) its help names as a value, and a bad number is refused naming
 * the flag. Unit tests in the test process.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli } from '../../src/main/cli/args.js';

describe('shoal flags', () => {
  test('a port flag takes -1 (off, as --help says) as its value, not as a flag', () => {
    const { config } = parseCli(['--ws-port', '-1', '--metrics-port', '-1', '--tls-port', '-1', '--wss-port', '-1']);
    assert.equal(config.wsPort, -1);
    assert.equal(config.metricsPort, -1);
    assert.equal(config.tlsPort, -1);
    assert.equal(config.wssPort, -1);
  });

  test('a flag that is not a number flag still refuses a value starting with a dash', () => {
    assert.throws(() => parseCli(['--host', '-1']), /ambiguous|argument/i);
  });

  test('a bad number names its flag', () => {
    assert.throws(() => parseCli(['--ws-port', 'off']), /--ws-port: expected a number/);
  });
});
