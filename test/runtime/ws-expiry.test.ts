/**
 * Session expiry after the transport went away, with the default runtime:
 * an anonymous WebSocket session lasts wsAnonymousSessionExpiry, a crawler's
 * (User-Agent of the upgrade request) wsCrawlerSessionExpiry, never longer
 * than negotiated; authenticated WebSocket sessions and non-WebSocket ones
 * keep their negotiated expiry. Times are made small in the config; every
 * wait is for on_session_expired. 3.1.1 and 5.0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeAllClients,
  closeClient,
  connectClient,
  persistent,
  uniqueId,
  VERSIONS,
  type ConnectOptions,
  type Version,
} from '../helpers/clients.js';
import { Recorder } from '../hooks/support.js';
import { startWsBroker, type WsBroker } from './support.js';

const label = (v: Version): string => (v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');
const CRAWLER = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const ANONYMOUS_S = 2;
const CRAWLER_S = 1;

describe('WebSocket session expiry', () => {
  let tb: WsBroker;
  const recorder = new Recorder();
  before(async () => {
    tb = await startWsBroker({ wsAnonymousSessionExpiry: ANONYMOUS_S, wsCrawlerSessionExpiry: CRAWLER_S }, [recorder.plugin]);
  });
  after(async () => {
    await closeAllClients();
    await tb.close();
  });

  /** Seconds from the client's close to its session's on_session_expired. */
  async function lifetime(clientId: string, opts: ConnectOptions): Promise<number> {
    const client = await connectClient(tb.wsPort, { ...opts, clientId });
    await closeClient(client);
    const closedAt = Date.now();
    await recorder.waitFor('on_session_expired', clientId, () => true, 10_000);
    return (Date.now() - closedAt) / 1000;
  }

  for (const version of VERSIONS) {
    test(`${label(version)}: an anonymous WebSocket session expires wsAnonymousSessionExpiry after its disconnect`, async () => {
      const seconds = await lifetime(uniqueId('anon'), tb.overWs({ version, ...persistent(version) }));
      assert.ok(seconds >= ANONYMOUS_S - 0.2 && seconds < ANONYMOUS_S + 1.5, `expired after ${seconds} s`);
    });

    test(`${label(version)}: an anonymous WebSocket crawler's session expires wsCrawlerSessionExpiry after its disconnect`, async () => {
      const seconds = await lifetime(uniqueId('bot'), tb.overWs({ version, ...persistent(version) }, CRAWLER));
      assert.ok(seconds >= CRAWLER_S - 0.2 && seconds < ANONYMOUS_S - 0.2, `expired after ${seconds} s`);
    });

    test(`${label(version)}: authenticated WebSocket and anonymous TCP sessions keep their negotiated expiry`, async () => {
      const named = uniqueId('named');
      const tcp = uniqueId('tcp');
      await closeClient(await connectClient(tb.wsPort, tb.overWs({ version, clientId: named, username: 'frank', ...persistent(version) })));
      await closeClient(await connectClient(tb.port, { version, clientId: tcp, ...persistent(version) }));
      // An anonymous WebSocket session closed after them is the clock: once it expired, theirs would have too.
      await lifetime(uniqueId('clock'), tb.overWs({ version, ...persistent(version) }));
      const again = await connectClient(tb.wsPort, tb.overWs({ version, clientId: named, username: 'frank', ...persistent(version) }));
      assert.equal(again.connack.sessionPresent, true);
      const tcpAgain = await connectClient(tb.port, { version, clientId: tcp, ...persistent(version) });
      assert.equal(tcpAgain.connack.sessionPresent, true);
    });
  }

  test('MQTT 5.0: the shortened expiry never lengthens a smaller negotiated one', async () => {
    const seconds = await lifetime(uniqueId('short'), tb.overWs({ version: 5, ...persistent(5, 1) }));
    assert.ok(seconds < ANONYMOUS_S - 0.2, `expired after ${seconds} s`);
  });
});
