/**
 * Persistence configuration: `dataDir` and `durability` have their
 * defaults (in memory, 'os'), wrong values are refused with an error naming
 * the field, and the `--data-dir` / `--in-memory` flags set `dataDir` over
 * the config file. Unit tests in the test process.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokerConfig } from '../../src/api/config.js';
import { defaultConfig, resolveConfig } from '../../src/api/config-schema.js';
import { parseCli } from '../../src/main/cli/args.js';

describe('persistence configuration', () => {
  test('defaults: no data directory (everything in memory), durability os', () => {
    const c = defaultConfig();
    assert.equal(c.dataDir, '');
    assert.equal(c.durability, 'os');
  });

  const wrong: Array<[keyof BrokerConfig, unknown]> = [
    ['dataDir', 42],
    ['dataDir', null],
    ['dataDir', 'a\0b'],
    ['durability', 'fsync'],
    ['durability', true],
  ];
  for (const [field, value] of wrong) {
    test(`${field} = ${JSON.stringify(value)} is refused with an error naming config.${field}`, () => {
      assert.throws(() => resolveConfig({ [field]: value } as Partial<BrokerConfig>), new RegExp(`^\\w*Error: config\\.${field}: `));
    });
  }

  test('accepted values are kept', () => {
    const c = resolveConfig({ dataDir: '/var/lib/shoal', durability: 'sync' });
    assert.equal(c.dataDir, '/var/lib/shoal');
    assert.equal(c.durability, 'sync');
  });

  test('--data-dir sets dataDir; --in-memory forces it empty over the config file; not both', () => {
    assert.equal(parseCli(['--data-dir', '/srv/shoal']).config.dataDir, '/srv/shoal');
    const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'));
    try {
      const file = join(dir, 'broker.json');
      writeFileSync(file, JSON.stringify({ dataDir: '/from/file', durability: 'sync' }));
      assert.equal(parseCli(['--config', file]).config.dataDir, '/from/file');
      assert.equal(parseCli(['--config', file, '--in-memory']).config.dataDir, '');
      assert.equal(parseCli(['--config', file, '--data-dir', '/flag']).config.dataDir, '/flag');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => parseCli(['--data-dir', '/x', '--in-memory']), /--data-dir and --in-memory/);
    assert.throws(() => parseCli(['--data-dir', '']), /--data-dir: expected a directory/);
  });
});
