/**
 * Whether the tests run in CI (`CI` set, and not `0` or `false`): there a
 * system program a test needs (nats-server, mosquitto_passwd, Chromium)
 * must be installed and its tests fail without it; elsewhere they are
 * skipped with a reason naming the package. Test process.
 */
import { spawnSync } from 'node:child_process';

export const IN_CI = (process.env['CI'] ?? '') !== '' && !/^(0|false)$/i.test(process.env['CI'] ?? '');

/** The `skip` option of tests that run `command`: a reason when it cannot be run outside CI, else false. */
export function skipWithout(command: string, probeArgs: string[], install: string): string | false {
  if (IN_CI || !spawnSync(command, probeArgs, { stdio: 'ignore' }).error) return false;
  return `${command} not installed (${install}); with CI set this test fails instead`;
}
