/**
 * A module plugin disconnecting other clients through its context
 * (PluginContext.disconnectClient), VerneMQ-style plugins' way to redirect
 * a live session: the fixture's on_publish of `admin/redirect/<client id>`
 * asks for it, and the target, on the plugin's own actor host or (two
 * workers) on another, is disconnected as broker.disconnectClient does it:
 * an MQTT 5.0 client gets DISCONNECT 0x9C Use another server (or 0x9D
 * Server moved) with the Server Reference and the Reason String, an MQTT
 * 3.1.1 client's connection is closed. The plugin learns whether the client
 * was connected, and a request the broker's own call refuses is refused
 * alike. Under `workers: 0` and two worker hosts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { IDisconnectPacket } from 'mqtt';
import { hostCount } from '../../src/shared/placement.js';
import { brokerForSuite } from '../helpers/broker.js';
import { ChannelLog } from '../helpers/channel.js';
import { connectClient, once, uniqueId, VERSIONS, type TestClient } from '../helpers/clients.js';
import { idOnHost } from '../helpers/placement.js';
import { label } from '../helpers/spec.js';
import { CHANNEL, CONTROL_PREFIX, type Outcome } from './fixtures/redirect-plugin.js';
import { WORKER_COUNTS } from './support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/redirect-plugin.js', import.meta.url));
const ELSEWHERE = 'mqtt-b.example.com:1883';

/** The DISCONNECT packets `client` receives and the close of its connection, from now on. */
function watch(client: TestClient): { disconnects: IDisconnectPacket[]; closed: Promise<unknown> } {
  const disconnects: IDisconnectPacket[] = [];
  client.on('disconnect', (packet) => disconnects.push(packet));
  return { disconnects, closed: once(client, 'close') };
}

for (const workers of WORKER_COUNTS) {
  describe(`a module plugin disconnects other clients (workers ${workers})`, () => {
    const outcomes = new ChannelLog<Outcome>(CHANNEL);
    const b = brokerForSuite({ workers, plugins: [FIXTURE] });
    after(() => outcomes.close());
    const hosts = hostCount(workers);

    /** Has the plugin of host 0 (the admin's session lives there) ask for `options` on `clientId`, and waits for its outcome. */
    async function ask(admin: TestClient, clientId: string, options: Record<string, unknown>): Promise<Outcome> {
      const forClient = (o: Outcome): boolean => o.clientId === clientId;
      const outcome = outcomes.waitFor(forClient, `the outcome for ${clientId}`, undefined, outcomes.all.filter(forClient).length);
      await admin.publishAsync(`${CONTROL_PREFIX}${clientId}`, JSON.stringify(options), { qos: 1 });
      return outcome;
    }

    for (const version of VERSIONS) {
      test(`${label(version)}: ${version === 5 ? 'DISCONNECT 0x9C Use another server with the Server Reference' : 'the connection is closed'}, whichever host holds the session`, async () => {
        const admin = await connectClient(b.port, { version: 5, clientId: idOnHost(0, hosts, 'admin') });
        for (let host = 0; host < hosts; host++) {
          const clientId = idOnHost(host, hosts, 'target');
          const target = await connectClient(b.port, { version, clientId });
          const { disconnects, closed } = watch(target);
          const outcome = await ask(admin, clientId, { reasonCode: 0x9c, serverReference: ELSEWHERE });
          await closed;
          assert.deepEqual(outcome, { hostIndex: 0, clientId, connected: true }, `host ${host}: the plugin learns it was connected`);
          if (version === 5) {
            assert.equal(disconnects.length, 1, `host ${host}: one DISCONNECT`);
            assert.equal(disconnects[0]?.reasonCode, 0x9c);
            assert.equal(disconnects[0]?.properties?.serverReference, ELSEWHERE);
          } else {
            assert.deepEqual(disconnects, [], '3.1.1 has no server DISCONNECT');
          }
        }
      });
    }

    test(`${label(5)}: 0x9D Server moved carries the Server Reference and the Reason String`, async () => {
      const admin = await connectClient(b.port, { version: 5, clientId: idOnHost(0, hosts, 'admin') });
      const clientId = idOnHost(hosts - 1, hosts, 'moved');
      const { disconnects, closed } = watch(await connectClient(b.port, { version: 5, clientId }));
      const options = { reasonCode: 0x9d, serverReference: ELSEWHERE, reasonString: 'this broker is retired' };
      assert.equal((await ask(admin, clientId, options)).connected, true);
      await closed;
      assert.equal(disconnects[0]?.reasonCode, 0x9d);
      assert.equal(disconnects[0]?.properties?.serverReference, ELSEWHERE);
      assert.equal(disconnects[0]?.properties?.reasonString, 'this broker is retired');
    });

    test('the plugin learns that a client was not connected; a reason code a server may not send is refused, as broker.disconnectClient refuses it', async () => {
      const admin = await connectClient(b.port, { version: 5, clientId: idOnHost(0, hosts, 'admin') });
      const nobody = uniqueId('nobody');
      assert.deepEqual(await ask(admin, nobody, { reasonCode: 0x9c, serverReference: ELSEWHERE }), {
        hostIndex: 0,
        clientId: nobody,
        connected: false,
      });
      const clientId = idOnHost(hosts - 1, hosts, 'kept');
      const target = await connectClient(b.port, { version: 5, clientId });
      const { disconnects, closed } = watch(target);
      const refused = await ask(admin, clientId, { reasonCode: 0x04 });
      assert.match(refused.error ?? '', /^RangeError: disconnectClient: reasonCode 4 is not a reason code a server may send in DISCONNECT/);
      assert.equal(target.connected, true, 'the client stays connected');
      assert.equal((await ask(admin, clientId, {})).connected, true);
      await closed;
      assert.equal(disconnects[0]?.reasonCode, 0x98, 'the default, 0x98 Administrative action');
    });
  });
}
