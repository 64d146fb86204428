/**
 * Reattach with the default runtime: a session lives on across transports,
 * but a CONNECT under another user than the session's is refused (CONNACK
 * 0x87, 3.1.1 return code 5) and leaves the session and its connection
 * alone; an anonymous session may be taken by a user logging in, a user's
 * session not by an anonymous client. 3.1.1 and 5.0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeAllClients,
  closeClient,
  connectClient,
  nextMessage,
  persistent,
  roundTrip,
  uniqueId,
  uniqueTopic,
  VERSIONS,
  type Version,
} from '../helpers/clients.js';
import { startWsBroker, type WsBroker } from './support.js';

const label = (v: Version): string => (v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');
const notAuthorized =
  (v: Version) =>
  (err: { code?: number }): boolean =>
    err.code === (v === 5 ? 0x87 : 5);

describe('reattach under another user', () => {
  let tb: WsBroker;
  before(async () => {
    tb = await startWsBroker();
  });
  after(async () => {
    await closeAllClients();
    await tb.close();
  });

  for (const version of VERSIONS) {
    test(`${label(version)}: another user is refused, over any transport, and the session's own connection stays`, async () => {
      const clientId = uniqueId('own');
      const topic = uniqueTopic('own');
      const alice = await connectClient(tb.port, { version, clientId, username: 'alice', ...persistent(version) });
      await alice.subscribeAsync(topic, { qos: 1 });
      await assert.rejects(
        connectClient(tb.wsPort, tb.overWs({ version, clientId, username: 'mallory', ...persistent(version) })),
        notAuthorized(version),
      );
      await assert.rejects(connectClient(tb.port, { version, clientId, username: 'mallory' }), notAuthorized(version));
      await roundTrip(alice);
      await tb.broker.publish({ topic, payload: 'still', qos: 1 });
      assert.equal((await nextMessage(alice)).payload.toString(), 'still');
      const fromWs = await connectClient(tb.wsPort, tb.overWs({ version, clientId, username: 'alice', ...persistent(version) }));
      assert.equal(fromWs.connack.sessionPresent, true);
      await closeClient(fromWs);
    });

    test(`${label(version)}: an anonymous session may be taken by a user logging in, a user's session not by an anonymous client`, async () => {
      const clientId = uniqueId('login');
      await closeClient(await connectClient(tb.port, { version, clientId, ...persistent(version) }));
      const bob = await connectClient(tb.port, { version, clientId, username: 'bob', ...persistent(version) });
      assert.equal(bob.connack.sessionPresent, true);
      await closeClient(bob);
      await assert.rejects(connectClient(tb.port, { version, clientId, ...persistent(version) }), notAuthorized(version));
    });
  }
});
