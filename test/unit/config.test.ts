/**
 * Unit: configuration. Every field of broker.example.json is a real field
 * with its default, every numeric limit is validated with an error naming
 * the field, and unknown fields are refused; whether anonymous clients are
 * allowed when allowAnonymous is unset, by the address the listeners bind.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { anonymousAllowed, type BrokerConfig } from '../../src/api/config.js';
import { ConfigError, configJsonSchema, configTable, defaultConfig, resolveConfig } from '../../src/api/config-schema.js';
import { configFromEnv, envName } from '../../src/main/cli/args.js';
import { isLoopbackHost } from '../../src/shared/loopback.js';

const EXAMPLE = new URL('../../../broker.example.json', import.meta.url);

describe('config', () => {
  test('broker.example.json lists every field with its default and is accepted', () => {
    const { $schema, ...example } = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    assert.equal($schema, './docs/broker.schema.json', 'editors find the JSON Schema');
    const defaults = defaultConfig() as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(example).sort(), Object.keys(defaults).sort());
    for (const [field, value] of Object.entries(example)) {
      // JSON has no undefined: a field unset by default is null there.
      if (field !== 'workers') assert.deepEqual(value, defaults[field] ?? null, `default of ${field}`);
    }
    assert.doesNotThrow(() => resolveConfig(example as Partial<BrokerConfig>));
  });

  test('every problem is reported at once, each naming its field', () => {
    const bad = { port: 70000, workers: -1, maxInflight: 3, durability: 'fsync' } as unknown as Partial<BrokerConfig>;
    assert.throws(
      () => resolveConfig(bad),
      (err: ConfigError) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 4, err.message);
        for (const field of ['config.port', 'config.workers', 'config.maxInflight: unknown field', 'config.durability']) {
          assert.ok(err.message.includes(field), `${field} in ${err.message}`);
        }
        return true;
      },
    );
  });

  test('prototype keys are unknown fields, not merged; a $schema key (for editors) is ignored', () => {
    assert.throws(() => resolveConfig(JSON.parse('{"toString": 5}') as Partial<BrokerConfig>), /config\.toString: unknown field/);
    assert.throws(
      () => resolveConfig(JSON.parse('{"__proto__": {"port": 1}}') as Partial<BrokerConfig>),
      /config\.__proto__: unknown field/,
    );
    assert.equal(resolveConfig({ $schema: './docs/broker.schema.json' } as Partial<BrokerConfig>).port, 1883);
  });

  test('docs/broker.schema.json is the JSON Schema of the configuration as the schema gives it (npm run config-schema)', () => {
    const file = JSON.parse(readFileSync(new URL('../../../docs/broker.schema.json', import.meta.url), 'utf8')) as unknown;
    assert.deepEqual(file, JSON.parse(JSON.stringify(configJsonSchema())));
    const properties = (file as { properties: Record<string, { default?: unknown; description?: string }> }).properties;
    assert.deepEqual(Object.keys(properties).sort(), ['$schema', ...Object.keys(defaultConfig())].sort());
    for (const [field, spec] of Object.entries(properties)) assert.ok(spec.description, `${field} has a description`);
  });

  test("README's configuration table is the schema's (npm run config-schema): every field with its default, unit and meaning", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('<!-- config-table: written by npm run config-schema');
    const table = readme.slice(readme.indexOf('\n', start) + 1, readme.indexOf('\n<!-- /config-table -->', start));
    assert.equal(table, configTable());
    for (const field of Object.keys(defaultConfig())) assert.ok(table.includes(`| \`${field}\` |`), `${field} has a row`);
  });

  test('SHOAL_* environment variables name fields in capitals with underscores', () => {
    assert.equal(envName('maxInflightMessages'), 'SHOAL_MAX_INFLIGHT_MESSAGES');
    const { config, unknown } = configFromEnv({
      SHOAL_WS_PORT: '-1',
      SHOAL_ALLOW_ANONYMOUS: 'false',
      SHOAL_LISTENER_POOLS: '{"ws":"web"}',
      SHOAL_NOPE: 'x',
      PATH: '/bin',
    });
    assert.deepEqual(config, { wsPort: -1, allowAnonymous: false, listenerPools: { ws: 'web' } });
    assert.deepEqual(unknown, ['SHOAL_NOPE']);
    assert.equal(resolveConfig(config).wsPort, -1);
    const lists = configFromEnv({
      SHOAL_PROXY_PROTOCOL: '["tcp", "tls"]',
      SHOAL_RUNTIME: '{"module": "./rt.js", "options": {"a": 1}}',
      SHOAL_RESPONSE_INFORMATION: '{"kept": "as text"}',
      SHOAL_CLUSTER: '{"servers": ["nats://127.0.0.1:4222"], "nodeId": "a"}',
    }).config;
    assert.deepEqual(lists, {
      proxyProtocol: ['tcp', 'tls'],
      runtime: { module: './rt.js', options: { a: 1 } },
      cluster: { servers: ['nats://127.0.0.1:4222'], nodeId: 'a' },
      responseInformation: '{"kept": "as text"}',
    });
    assert.deepEqual(configFromEnv({ SHOAL_PROXY_PROTOCOL: 'true', SHOAL_RUNTIME: './rt.js' }).config, {
      proxyProtocol: true,
      runtime: './rt.js',
    });
    assert.throws(() => configFromEnv({ SHOAL_PLUGINS: '["shoal/acl"' }), /SHOAL_PLUGINS: .*JSON/);
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

  const hosts: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['LocalHost.', true],
    ['broker.localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.20', false],
    ['fe80::1', false],
    ['::ffff:10.0.0.1', false],
    ['mqtt.example.org', false],
  ];
  for (const [host, loopback] of hosts) {
    test(`allowAnonymous unset: anonymous clients ${loopback ? 'allowed' : 'refused'} with host ${host}`, () => {
      assert.equal(isLoopbackHost(host), loopback);
      assert.equal(anonymousAllowed(resolveConfig({ host })), loopback);
    });
  }

  test('allowAnonymous set is obeyed on any host; null (JSON) is unset; anything else is refused by name', () => {
    assert.equal(defaultConfig().allowAnonymous, undefined);
    for (const host of ['127.0.0.1', '0.0.0.0', '::']) {
      assert.equal(anonymousAllowed(resolveConfig({ host, allowAnonymous: true })), true);
      assert.equal(anonymousAllowed(resolveConfig({ host, allowAnonymous: false })), false);
    }
    const unset = resolveConfig({ allowAnonymous: null } as unknown as Partial<BrokerConfig>);
    assert.equal(unset.allowAnonymous, undefined);
    assert.throws(() => resolveConfig({ allowAnonymous: 'yes' } as unknown as Partial<BrokerConfig>), /config\.allowAnonymous/);
  });

  test('vhostSeparator is a string, none by default', () => {
    assert.equal(defaultConfig().vhostSeparator, '');
    assert.equal(resolveConfig({ vhostSeparator: ':' }).vhostSeparator, ':');
    assert.throws(() => resolveConfig({ vhostSeparator: 1 } as unknown as Partial<BrokerConfig>), /config\.vhostSeparator/);
  });

  test('values inside their ranges are kept', () => {
    const c = resolveConfig({ port: 0, workers: 0, maxInflightMessages: 1, maxIncomingMessagesRate: 2.5 });
    assert.equal(c.port, 0);
    assert.equal(c.workers, 0);
    assert.equal(c.maxInflightMessages, 1);
    assert.equal(c.maxIncomingMessagesRate, 2.5);
  });
});
