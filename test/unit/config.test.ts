/**
 * Unit: configuration. Every field of broker.example.json is a real field
 * with its default, every numeric limit is validated with an error naming
 * the field, and unknown fields are refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig, resolveConfig, type BrokerConfig } from '../../src/api/config.js';

const EXAMPLE = new URL('../../../broker.example.json', import.meta.url);

describe('config', () => {
  test('broker.example.json lists every field with its default and is accepted', () => {
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    const defaults = defaultConfig() as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(example).sort(), Object.keys(defaults).sort());
    for (const [field, value] of Object.entries(example)) {
      if (field !== 'workers') assert.deepEqual(value, defaults[field], `default of ${field}`);
    }
    assert.doesNotThrow(() => resolveConfig(example as Partial<BrokerConfig>));
  });

  test('an unknown field is refused by name', () => {
    assert.throws(() => resolveConfig({ maxInflight: 3 } as unknown as Partial<BrokerConfig>), /config\.maxInflight: unknown field/);
  });

  const outOfRange: Array<[keyof BrokerConfig, unknown]> = [
    ['port', 70000],
    ['workers', -1],
    ['maxIncomingPacketSize', 10],
    ['maxInflightMessages', 0],
    ['receiveMaximum', 0],
    ['maxKeepalive', 0],
    ['maxIncomingMessagesRate', 0],
    ['batchFlushFrames', 0],
    ['connectTimeoutMs', 1.5],
    ['maxOfflineMessages', 'many'],
    ['dataDir', 3],
    ['durability', 'fsync'],
    ['logFormat', 'xml'],
    ['sysInterval', -1],
  ];
  for (const [field, value] of outOfRange) {
    test(`${field} = ${JSON.stringify(value)} is refused with an error naming config.${field}`, () => {
      assert.throws(() => resolveConfig({ [field]: value } as Partial<BrokerConfig>), new RegExp(`config\\.${field}`));
    });
  }

  test('values inside their ranges are kept', () => {
    const c = resolveConfig({ port: 0, workers: 0, maxInflightMessages: 1, maxIncomingMessagesRate: 2.5 });
    assert.equal(c.port, 0);
    assert.equal(c.workers, 0);
    assert.equal(c.maxInflightMessages, 1);
    assert.equal(c.maxIncomingMessagesRate, 2.5);
  });
});
