/**
 * Integration: the `shoal` command as a user runs it — `--help`, `--version`, a config
 * field error naming the field, and a broker started from the CLI that
 * serves MQTT and stops gracefully on SIGTERM and SIGINT (5.0 clients get
 * DISCONNECT 0x8B, the process exits 0), and one that, without a data
 * flag, keeps a persistent session and its queued message across a restart
 * in ./shoal-data of its working directory; its log lines are JSON on a
 * pipe by default and readable ones with `--log-format pretty`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listeningPort, outputMatch, startCli } from '../helpers/cli.js';
import { closeClient, connectClient, nextMessage, once, persistent, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';

const BOUND_MS = 15_000;

describe('shoal CLI', () => {
  test('--help prints the options and exits 0', async () => {
    const r = startCli(['--help'], { boundMs: BOUND_MS });
    assert.equal(await r.exited, 0);
    for (const flag of ['--port', '--host', '--allow-anonymous', '--workers', '--config', '--log-level']) {
      assert.match(r.stdout(), new RegExp(flag));
    }
    assert.match(r.stdout(), /Anonymous clients are allowed only\s+while it listens on a loopback address/);
  });

  test('--host 0.0.0.0 refuses anonymous clients (CONNACK 0x87) and says why; --allow-anonymous true lets them in with a warning', async () => {
    const refusing = startCli(['--host', '0.0.0.0', '--port', '0', '--workers', '1', '--in-memory'], { boundMs: BOUND_MS });
    const port = await listeningPort(refusing);
    await outputMatch(refusing, /"msg":"anonymous clients are refused: a listener binds a non-loopback address/);
    await assert.rejects(connectClient(port, { version: 5 }), (err: { code?: number }) => err.code === 0x87);
    refusing.child.kill('SIGTERM');
    assert.equal(await refusing.exited, 0);

    const allowing = startCli(['--host', '0.0.0.0', '--port', '0', '--in-memory', '--allow-anonymous', 'true'], { boundMs: BOUND_MS });
    const open = await listeningPort(allowing);
    const [warning] = await outputMatch(allowing, /^.*"msg":"anonymous clients are allowed on a non-loopback address.*$/m);
    assert.equal((JSON.parse(warning) as { level: number }).level, 40, 'a warning');
    await closeClient(await connectClient(open, { version: 4 }));
    allowing.child.kill('SIGTERM');
    assert.equal(await allowing.exited, 0);
  });

  test('--allow-anonymous takes true or false only', async () => {
    const r = startCli(['--port', '0', '--allow-anonymous', 'yes'], { boundMs: BOUND_MS });
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), /--allow-anonymous: expected true or false/);
  });

  test('--version prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = startCli(['--version'], { boundMs: BOUND_MS });
    await outputMatch(r, /\n/, BOUND_MS);
    assert.equal(await r.exited, 0);
    assert.equal(r.stdout(), `${version}\n`);
    assert.match(version, /^\d+\.\d+\.\d+/);
  });

  test('--check-config reports every problem of the file, the environment and the flags at once, naming each field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-check-'));
    try {
      const file = join(dir, 'broker.json');
      writeFileSync(file, JSON.stringify({ $schema: './docs/broker.schema.json', port: 70000, maxInflight: 3 }));
      const r = startCli(['--config', file, '--workers=-1', '--check-config'], { boundMs: BOUND_MS, env: { SHOAL_RECEIVE_MAXIMUM: '0' } });
      assert.equal(await r.exited, 1);
      for (const field of ['config.port', 'config.maxInflight: unknown field', 'config.workers', 'config.receiveMaximum']) {
        assert.ok(r.stderr().includes(field), `${field} in: ${r.stderr()}`);
      }
      writeFileSync(file, '{ "port": 1883, }');
      const broken = startCli(['--config', file, '--check-config'], { boundMs: BOUND_MS });
      assert.equal(await broken.exited, 1);
      assert.ok(broken.stderr().startsWith(`${file}: `), `the JSON syntax error names the file: ${broken.stderr()}`);
      const valid = startCli(['--check-config'], { boundMs: BOUND_MS });
      assert.equal(await valid.exited, 0);
      assert.match(valid.stdout(), /valid/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--print-config prints every field resolved: defaults, SHOAL_* environment variables, flags over them', async () => {
    const r = startCli(['--print-config', '--port', '1999'], {
      boundMs: BOUND_MS,
      env: { SHOAL_MAX_INFLIGHT_MESSAGES: '5', SHOAL_PORT: '1888', SHOAL_PLUGINS: '["shoal/acl"]', SHOAL_TLS_REQUEST_CERT: 'true' },
    });
    assert.equal(await r.exited, 0);
    const printed = JSON.parse(r.stdout()) as Record<string, unknown>;
    assert.equal(printed['maxInflightMessages'], 5);
    assert.equal(printed['port'], 1999, 'a flag wins over the environment');
    assert.deepEqual(printed['plugins'], ['shoal/acl']);
    assert.equal(printed['tlsRequestCert'], true);
    assert.equal(printed['receiveMaximum'], 1024, 'a default');
    const typo = startCli(['--print-config'], { boundMs: BOUND_MS, env: { SHOAL_MAX_INFLIGHT: '5' } });
    assert.equal(await typo.exited, 0);
    assert.match(typo.stderr(), /SHOAL_MAX_INFLIGHT names no configuration field; ignored/);
    assert.equal((JSON.parse(typo.stdout()) as Record<string, unknown>)['maxInflightMessages'], 20);
  });

  test('an invalid config value stops it with an error naming the field', async () => {
    const r = startCli(['--port', '0', '--workers=-1'], { boundMs: BOUND_MS });
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), /config\.workers/);
  });

  for (const version of VERSIONS) {
    test(`[MQTT-3.1.2-5] keeps sessions across a restart by default, in ./shoal-data (${label(version)})`, async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
      const clientId = uniqueId('cli-kept');
      const topic = uniqueTopic('cli-kept');
      try {
        let r = startCli(['--port', '0', '--workers', '0', '--log-level', 'info'], { boundMs: BOUND_MS, cwd });
        let port = await listeningPort(r);
        const sub = await connectClient(port, { version, clientId, ...persistent(version) });
        await sub.subscribeAsync(topic, { qos: 1 });
        await sub.endAsync();
        const pub = await connectClient(port, { version });
        await pub.publishAsync(topic, 'queued while offline', { qos: 1 });
        await pub.endAsync();
        r.child.kill('SIGTERM');
        assert.equal(await r.exited, 0);
        assert.ok(existsSync(join(cwd, 'shoal-data', 'lmdb')), 'the data directory is ./shoal-data');

        r = startCli(['--port', '0', '--workers', '1', '--log-level', 'info'], { boundMs: BOUND_MS, cwd });
        port = await listeningPort(r);
        const back = await connectClient(port, { version, clientId, ...persistent(version) });
        assert.equal(back.connack.sessionPresent, true, 'session present after the restart');
        assert.equal((await nextMessage(back, (m) => m.topic === topic)).payload.toString(), 'queued while offline');
        back.end(true);
        r.child.kill('SIGTERM');
        assert.equal(await r.exited, 0);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`serves MQTT and stops gracefully on ${signal}`, async () => {
      const r = startCli(['--port', '0', '--workers', '1', '--log-level', 'info', '--in-memory'], { boundMs: BOUND_MS });
      const port = await listeningPort(r);
      const sub = await connectClient(port, { version: 5, clientId: uniqueId('cli') });
      const pub = await connectClient(port, { version: 4, clientId: uniqueId('cli') });
      const topic = uniqueTopic('cli');
      await sub.subscribeAsync(topic, { qos: 1 });
      await pub.publishAsync(topic, 'via cli', { qos: 1 });
      assert.equal((await nextMessage(sub, (m) => m.topic === topic)).payload.toString(), 'via cli');
      const disconnect = once<[{ reasonCode?: number }]>(sub, 'disconnect', BOUND_MS);
      r.child.kill(signal);
      const [packet] = await disconnect;
      assert.equal(packet.reasonCode, 0x8b, 'Server shutting down');
      assert.equal(await r.exited, 0);
      pub.end(true);
      sub.end(true);
    });
  }

  test('logs JSON lines on a pipe by default, the connection lines included', async () => {
    const r = startCli(['--port', '0', '--workers', '1', '--in-memory'], { boundMs: BOUND_MS });
    const port = await listeningPort(r);
    const clientId = uniqueId('cli-json');
    await closeClient(await connectClient(port, { version: 5, clientId }));
    await outputMatch(r, /"msg":"client disconnected"/, BOUND_MS);
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
    const records = r
      .stdout()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const connected = records.find((record) => record['msg'] === 'client connected');
    assert.equal(connected?.['clientId'], clientId);
    assert.equal(records.find((record) => record['msg'] === 'client disconnected')?.['cause'], 'client-disconnect');
  });

  test('--log-format pretty logs readable lines, not JSON', async () => {
    const r = startCli(['--port', '0', '--workers', '1', '--in-memory', '--log-format', 'pretty'], { boundMs: BOUND_MS });
    const port = Number((await outputMatch(r, /listening .*"port":(\d+)/, BOUND_MS))[1]);
    const clientId = uniqueId('cli-pretty');
    await closeClient(await connectClient(port, { version: 4, clientId }));
    await outputMatch(r, /client disconnected/, BOUND_MS);
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
    const lines = r
      .stdout()
      .split('\n')
      .filter((line) => line !== '');
    assert.ok(lines.length > 0);
    for (const line of lines) assert.throws(() => JSON.parse(line), `not JSON: ${line}`);
    assert.match(r.stdout(), new RegExp(`INFO \\(main\\): client connected .*"clientId":"${clientId}"`));
  });

  test('an unknown --log-format stops it with an error naming the field', async () => {
    const r = startCli(['--port', '0', '--log-format', 'xml'], { boundMs: BOUND_MS });
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), /config\.logFormat/);
  });
});
