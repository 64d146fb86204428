/**
 * The bundled plugin shoal/acl with a real broker (one worker host) and
 * mqtt.js clients under MQTT 3.1.1 and 5.0: per-user `topic` rules, `pattern`
 * rules with %u and %c, read/write/readwrite, publish refusals (5.0 PUBACK
 * 0x87; 3.1.1 acknowledged and dropped), per-filter subscribe refusals
 * (covered exactly or by a wider wildcard), and a reload after the file
 * changes, without dropping a connected client; `pool NAME` sections scope
 * the rules to the clients of one pool. A `watcher` user who may read
 * everything under the test's root observes what was routed; a refused
 * message is checked against a later allowed one from the same publisher
 * (ordered), not with a sleep.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseAclFile } from '../../src/plugins/acl.js';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, nextMessage, pendingMessages, uniqueId, VERSIONS, type TestClient, type Version } from '../helpers/clients.js';
import { label } from '../helpers/spec.js';
import { eventually, replaceFile, tempDir } from './support.js';

const R = `acl${randomBytes(3).toString('hex')}`;
const tmp = tempDir('acl');
const FILE = join(tmp.dir, 'acl');

function aclText(extraForAlice = ''): string {
  return [
    '# anonymous clients',
    `topic read ${R}/public/#`,
    'user watcher',
    `topic read ${R}/#`,
    'user alice',
    `topic ${R}/alice/#`,
    `topic read ${R}/shared/+`,
    `topic write ${R}/marker/#`,
    extraForAlice,
    'user bob',
    `topic write ${R}/shared/bob`,
    `topic write ${R}/marker/#`,
    `pattern readwrite ${R}/users/%u/#`,
    `pattern write ${R}/clients/%c`,
    `pattern read ${R}/inbox/%c/+`,
    'pool red',
    `topic read ${R}/red/public/#`,
    'user watcher',
    `topic read ${R}/#`,
    'user alice',
    `topic ${R}/red/alice/#`,
    `topic write ${R}/marker/#`,
    `pattern write ${R}/red/clients/%c`,
    '',
  ].join('\n');
}

/** Publishes `topic` (QoS 1) then a marker; true when `watcher` got `topic` before the marker. 5.0: the refused PUBACK rejects, which is false too. */
async function routed(publisher: TestClient, watcher: TestClient, topic: string): Promise<boolean> {
  const tag = uniqueId('m');
  let refused = false;
  await publisher.publishAsync(topic, tag, { qos: 1 }).catch((err: { code?: number }) => {
    assert.equal(err.code, 0x87, `5.0 refusal code for ${topic}`);
    refused = true;
  });
  await publisher.publishAsync(`${R}/marker/${publisher.options.username}`, tag, { qos: 1 });
  await nextMessage(watcher, (m) => m.topic.startsWith(`${R}/marker/`) && m.payload.toString() === tag);
  const got = pendingMessages(watcher).some((m) => m.topic === topic && m.payload.toString() === tag);
  if (got) await nextMessage(watcher, (m) => m.topic === topic && m.payload.toString() === tag);
  if (refused) assert.equal(got, false);
  return got;
}

/** The SUBACK codes of one SUBSCRIBE of `filters` (QoS 1), in order; mqtt.js rejects when one is a refusal, with the SUBACK. */
async function grants(client: TestClient, filters: string[]): Promise<number[]> {
  const request = Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }]));
  try {
    const granted = await client.subscribeAsync(request);
    return filters.map((f) => granted.find((g) => g.topic === f)!.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: Array<number | { qos: number }> } }).packet;
    if (packet?.granted === undefined) throw err;
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}

describe('shoal/acl', () => {
  before(() => replaceFile(FILE, aclText()));
  const b = brokerForSuite({ vhostSeparator: ':', plugins: [{ module: 'shoal/acl', options: { file: FILE } }] });
  after(() => tmp.remove());

  const connect = (version: Version, username: string | undefined, clientId?: string): Promise<TestClient> =>
    connectClient(b.port, { version, ...(username === undefined ? {} : { username }), ...(clientId === undefined ? {} : { clientId }) });

  async function watcherFor(version: Version): Promise<TestClient> {
    const watcher = await connect(version, 'watcher');
    assert.deepEqual(await grants(watcher, [`${R}/#`]), [1]);
    return watcher;
  }

  for (const version of VERSIONS) {
    const refused = (qos: number): boolean => qos >= 0x80;

    test(`${label(version)}: publish: the user's write/readwrite topics are routed, read-only and foreign topics are not`, async () => {
      const watcher = await watcherFor(version);
      const alice = await connect(version, 'alice');
      assert.equal(await routed(alice, watcher, `${R}/alice/x/y`), true, 'readwrite');
      assert.equal(await routed(alice, watcher, `${R}/shared/x`), false, 'read only');
      assert.equal(await routed(alice, watcher, `${R}/elsewhere`), false, 'no rule');
      const bob = await connect(version, 'bob');
      assert.equal(await routed(bob, watcher, `${R}/shared/bob`), true, 'write');
      assert.equal(await routed(bob, watcher, `${R}/alice/x`), false, "alice's");
    });

    test(`${label(version)}: publish: patterns substitute %u and %c`, async () => {
      const watcher = await watcherFor(version);
      const clientId = uniqueId('pc');
      const bob = await connect(version, 'bob', clientId);
      assert.equal(await routed(bob, watcher, `${R}/users/bob/a`), true, '%u');
      assert.equal(await routed(bob, watcher, `${R}/users/alice/a`), false, "another user's %u");
      assert.equal(await routed(bob, watcher, `${R}/clients/${clientId}`), true, '%c');
      assert.equal(await routed(bob, watcher, `${R}/clients/someone-else`), false, "another client's %c");
    });

    test(`${label(version)}: subscribe: each filter is allowed when a read rule covers it exactly or by wildcard, refused otherwise`, async () => {
      const alice = await connect(version, 'alice');
      const g = await grants(alice, [
        `${R}/alice/#`,
        `${R}/alice/+/z`,
        `${R}/shared/x`,
        `${R}/shared/+`,
        `${R}/shared/#`,
        `${R}/marker/a`,
        `${R}/#`,
        `$share/g/${R}/alice/q`,
      ]);
      assert.deepEqual(g.map(refused), [false, false, false, false, true, true, true, false]);
      const bob = await connect(version, 'bob', uniqueId('sc'));
      const h = await grants(bob, [
        `${R}/users/bob/#`,
        `${R}/users/alice/#`,
        `${R}/inbox/${bob.clientId}/one`,
        `${R}/inbox/${bob.clientId}/+`,
        `${R}/inbox/${bob.clientId}/#`,
        `${R}/shared/bob`,
      ]);
      assert.deepEqual(h.map(refused), [false, true, false, false, true, true]);
    });

    test(`${label(version)}: anonymous clients get the rules before the first user line, and patterns without %u`, async () => {
      const anon = await connect(version, undefined, uniqueId('an'));
      const g = await grants(anon, [`${R}/public/news`, `${R}/alice/#`, `${R}/users/+/x`, `${R}/inbox/${anon.clientId}/+`]);
      assert.deepEqual(g.map(refused), [false, true, true, false]);
    });

    test(`${label(version)}: an allowed subscription receives, a refused one does not`, async () => {
      const alice = await connect(version, 'alice');
      assert.deepEqual((await grants(alice, [`${R}/shared/+`, `${R}/users/bob/#`])).map(refused), [false, true]);
      const bob = await connect(version, 'bob');
      await bob.publishAsync(`${R}/users/bob/secret`, 'not for alice', { qos: 1 });
      await bob.publishAsync(`${R}/shared/bob`, 'for alice', { qos: 1 });
      const m = await nextMessage(alice);
      assert.equal(m.topic, `${R}/shared/bob`);
      assert.equal(pendingMessages(alice).length, 0);
    });
  }

  test('a changed file takes effect for a connected client, which stays connected', async () => {
    const watcher = await watcherFor(5);
    const clients = await Promise.all(VERSIONS.map((version) => connect(version, 'alice')));
    let closed = 0;
    for (const c of clients)
      c.on('close', () => {
        closed++;
      });
    for (const c of clients) assert.equal(await routed(c, watcher, `${R}/late/x`), false);
    replaceFile(FILE, aclText(`topic write ${R}/late/#`));
    for (const c of clients) {
      await eventually(`${label(c.version)}: publish to late/x allowed`, () => routed(c, watcher, `${R}/late/x`));
      assert.deepEqual(
        (await grants(c, [`${R}/late/#`])).map((q) => q >= 0x80),
        [true],
        'write-only',
      );
    }
    replaceFile(FILE, aclText());
    for (const c of clients) {
      await eventually(`${label(c.version)}: publish to late/x refused again`, async () => !(await routed(c, watcher, `${R}/late/x`)));
    }
    assert.equal(closed, 0, 'no client was dropped');
    assert.ok(clients.every((c) => c.connected));
  });

  for (const version of VERSIONS) {
    test(`${label(version)}: a pool section's rules are its clients' only rules (vhost:user clients of pool red)`, async () => {
      const watcher = await connect(version, 'red:watcher');
      assert.deepEqual(await grants(watcher, [`${R}/#`]), [1]);
      const alice = await connect(version, 'red:alice', uniqueId('redc'));
      assert.equal(await routed(alice, watcher, `${R}/red/alice/x`), true, "the pool's user rule");
      assert.equal(await routed(alice, watcher, `${R}/red/clients/${alice.options.clientId}`), true, "the pool's pattern");
      assert.equal(await routed(alice, watcher, `${R}/alice/x`), false, "the default pool's rule");
      assert.equal(await routed(alice, watcher, `${R}/users/alice/x`), false, "the default pool's pattern");
      const defaultAlice = await connect(version, 'alice');
      assert.deepEqual(await grants(defaultAlice, [`${R}/red/public/#`]), [version === 5 ? 0x87 : 0x80]);
      const anonymous = await connect(version, 'red:');
      assert.deepEqual(await grants(anonymous, [`${R}/red/public/#`, `${R}/public/#`]), [1, version === 5 ? 0x87 : 0x80]);
    });
  }

  test('a malformed file is refused with its line number', () => {
    assert.throws(() => parseAclFile('pool\n', 'f'), /f:1: expected pool NAME/);
    assert.throws(() => parseAclFile('user a\ntopic read a/#/b\n', 'f'), /f:2: invalid topic filter/);
    assert.throws(() => parseAclFile('topic read x\nallow y\n', 'f'), /f:2: unknown keyword/);
    assert.throws(() => parseAclFile('user\n', 'f'), /f:1: expected user NAME/);
  });
});
