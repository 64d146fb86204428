/**
 * Integration: the package as npm publishes it. `npm pack` packs the built
 * tree (what package.json's `files` lets in), and an empty directory
 * installs the tarball with `npm ci --offline`: the install resolves
 * nothing, its lockfile names the tarball and, for every other package,
 * the entry of this repository's package-lock.json with its tarball's
 * address in the configured registry, so the tarballs come
 * from the npm cache that `npm ci` of the repository filled, on a fresh CI
 * machine too. The installed `shoal` then prints its version, the package's
 * entry points import, and the installed command serves MQTT (worker
 * threads, LMDB in a data directory) to mqtt.js clients of both protocol
 * versions and stops on SIGTERM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, startCli } from '../helpers/cli.js';
import { connectClient, nextMessage, uniqueId, uniqueTopic, VERSIONS } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';

/** The repository root, from dist/test/integration/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Bound on each npm command (pack, install, npx), in milliseconds. */
const NPM_MS = 90_000;
const BOUND_MS = 30_000;

interface PackageJson {
  name: string;
  version: string;
  license: string;
  engines: Record<string, string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}

interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  link?: boolean;
  dev?: boolean;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** Runs a command to completion within NPM_MS; resolves with its stdout, rejects with its stderr. */
function run(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: NPM_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * `entry` with its tarball's address: a lockfile written with
 * `omit-lockfile-registry-resolved` has none, and npm would then ask the
 * registry for the package's metadata, which the cache may not hold.
 */
function withResolved(path: string, entry: LockEntry, registry: string): LockEntry {
  if (entry.resolved !== undefined || entry.link === true || entry.version === undefined) return entry;
  const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const basename = name.slice(name.lastIndexOf('/') + 1);
  return { ...entry, resolved: new URL(`${name}/-/${basename}-${entry.version}.tgz`, registry).href };
}

/**
 * A package.json and package-lock.json for an application that depends on
 * the tarball alone: the lockfile's entries for the package's own
 * dependencies are this repository's entries that are not dev-only, laid out
 * as they are here (hoisted under node_modules, nested where a version
 * conflicts), which is a valid tree for a root that reaches them through
 * the package; each names its tarball in `registry`.
 */
function writeApplication(dir: string, tarball: string, registry: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const dependency = { [pkg.name]: `file:${tarball}` };
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: dependency },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: `file:${tarball}`,
      license: pkg.license,
      engines: pkg.engines,
      bin: pkg.bin,
      dependencies: pkg.dependencies,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = withResolved(path, entry, registry);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: dependency }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
}

describe('the packed package', () => {
  let dir = '';
  let app = '';
  let packed: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-package-'));
    // --ignore-scripts: pack the tree this test run built, never a rebuild that would wipe dist/ under other tests.
    const [result] = JSON.parse(await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    packed = result!.files.map((file) => file.path);
    app = join(dir, 'app');
    mkdirSync(app);
    const registry = (await run('npm', ['config', 'get', 'registry'], ROOT)).trim();
    writeApplication(app, join(dir, result!.filename), registry.endsWith('/') ? registry : `${registry}/`);
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app);
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('holds the compiled broker and workers, the README and the licence, and nothing of the tests or benchmarks', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      pkg.bin['shoal'],
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/workers/worker-main.js',
    ]) {
      assert.ok(packed.includes(file!), `${file} is packed`);
    }
    const stray = packed.filter((file) => !/^(dist\/(src|workers)\/.+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(file));
    assert.deepEqual(stray, [], 'only dist/src, dist/workers and the documents');
  });

  test('npx shoal --version prints the version of package.json', async () => {
    assert.equal(await run('npx', ['--offline', '--no', '--', 'shoal', '--version'], app), `${pkg.version}\n`);
  });

  test("its entry points import: createBroker from 'shoal', the bundled plugins from 'shoal/passwd' and 'shoal/acl'", async () => {
    const script = [
      "const shoal = await import('shoal');",
      "const passwd = await import('shoal/passwd');",
      "const acl = await import('shoal/acl');",
      'console.log(JSON.stringify([typeof shoal.createBroker, typeof passwd.default, typeof acl.default]));',
    ].join(' ');
    assert.deepEqual(JSON.parse(await run(process.execPath, ['--input-type=module', '-e', script], app)), [
      'function',
      'function',
      'function',
    ]);
  });

  test('the installed shoal serves MQTT from worker threads with a data directory and stops on SIGTERM', async () => {
    const r = startCli(['--port', '0', '--workers', '2', '--data-dir', join(dir, 'data'), '--log-format', 'json'], {
      boundMs: BOUND_MS,
      cwd: app,
      executable: join(app, 'node_modules', '.bin', 'shoal'),
    });
    const port = await listeningPort(r);
    for (const version of VERSIONS) {
      const topic = uniqueTopic('packed');
      const sub = await connectClient(port, { version, clientId: uniqueId('packed') });
      const pub = await connectClient(port, { version, clientId: uniqueId('packed') });
      await sub.subscribeAsync(topic, { qos: 1 });
      await pub.publishAsync(topic, `from the tarball (${label(version)})`, { qos: 1 });
      assert.equal((await nextMessage(sub, (m) => m.topic === topic)).payload.toString(), `from the tarball (${label(version)})`);
      await pub.endAsync();
      await sub.endAsync();
    }
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
  });
});
