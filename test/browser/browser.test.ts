/**
 * A real browser end to end: headless Chromium (Debian's /usr/bin/chromium,
 * driven with playwright-core; no browser is ever downloaded) loads a page
 * from this test's own HTTP server on 127.0.0.1, which loads the mqtt.js
 * browser bundle. The page connects over WebSocket to the broker's `ws://`
 * listener, subscribes, receives what a TCP client (mqtt.js in Node)
 * publishes, and publishes back to it; for MQTT 3.1.1 and 5.0.
 *
 * With CI set, a Chromium that cannot start fails the tests. Elsewhere a
 * missing Chromium skips them: `apt-get install -y chromium` (Debian), or
 * SHOAL_CHROMIUM=/path/to/chromium. Every wait is bounded; no fixed sleeps.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium, LAUNCH_MS } from '../helpers/chromium.js';
import type { Broker } from '../../src/main/broker.js';
import type { SessionEventDetails } from '../../src/shared/channel/frames.js';
import { closeBroker, connect, startBroker, uniqueTopic, urlOf, WAIT_MS, within } from '../transports/helpers.js';

/** The mqtt.js browser bundle (an IIFE defining the global `mqtt`). */
function mqttBundle(): Buffer {
  const require = createRequire(import.meta.url);
  return readFileSync(join(dirname(require.resolve('mqtt/package.json')), 'dist', 'mqtt.min.js'));
}

/**
 * The page: `window.shoal` wraps one mqtt.js client in promises, each
 * bounded by `waitMs` so that a lost packet fails with a message, not a hang.
 */
function pageHtml(waitMs: number): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>Shoal browser test</title>
<link rel="icon" href="data:,">
<script src="/mqtt.min.js"></script>
<script>
'use strict';
(() => {
  const bounded = (what, executor) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what + ': nothing within ${waitMs} ms')), ${waitMs});
    executor((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
  });
  let client;
  const messages = [];
  const waiting = [];
  window.shoal = {
    loaded: typeof mqtt === 'object' && typeof mqtt.connect === 'function',
    connect(url, protocolVersion, clientId) {
      return bounded('CONNACK', (resolve, reject) => {
        client = mqtt.connect(url, { protocolVersion, clientId, reconnectPeriod: 0, connectTimeout: ${waitMs}, clean: true });
        client.on('message', (topic, payload, packet) => {
          messages.push({ topic, payload: new TextDecoder().decode(payload), qos: packet.qos, properties: packet.properties || null });
          while (waiting.length > 0) waiting.shift()();
        });
        client.once('connect', (connack) => resolve({ sessionPresent: connack.sessionPresent, webSocket: typeof WebSocket === 'function' }));
        client.once('error', reject);
        client.once('close', () => reject(new Error('closed before CONNACK')));
      });
    },
    subscribe(topic, qos) {
      return bounded('SUBACK', (resolve, reject) => {
        client.subscribe(topic, { qos }, (err, granted) => err ? reject(err) : resolve(granted.map((g) => g.qos)));
      });
    },
    publish(topic, text, qos, properties) {
      return bounded('PUBACK', (resolve, reject) => {
        client.publish(topic, text, properties ? { qos, properties } : { qos }, (err) => err ? reject(err) : resolve(true));
      });
    },
    message(count) {
      return bounded('message #' + count, (resolve) => {
        const check = () => messages.length >= count ? resolve(messages[count - 1]) : waiting.push(check);
        check();
      });
    },
    end() {
      return bounded('end', (resolve) => client ? client.end(false, {}, () => resolve(true)) : resolve(true));
    },
  };
})();
</script>
<p>Shoal MQTT over WebSocket test page</p>
`;
}

/** What the page's functions return, as seen from Node. */
interface PageMessage {
  topic: string;
  payload: string;
  qos: number;
  properties: Record<string, unknown> | null;
}
interface ShoalPage {
  loaded: boolean;
  connect(url: string, protocolVersion: number, clientId: string): Promise<{ sessionPresent: boolean; webSocket: boolean }>;
  subscribe(topic: string, qos: number): Promise<number[]>;
  publish(topic: string, text: string, qos: number, properties?: Record<string, unknown>): Promise<boolean>;
  message(count: number): Promise<PageMessage>;
  end(): Promise<boolean>;
}
/**
 * The page's globals (this file is compiled without DOM types). Functions
 * given to page.evaluate run in the page, serialized: they name
 * `(globalThis as unknown as InPage).shoal` themselves, no closure.
 */
interface InPage {
  shoal: ShoalPage;
}

describe('MQTT over WebSocket from a real browser (headless Chromium)', { skip: chromiumSkip }, () => {
  let broker: Broker;
  let http: Server;
  let pageUrl: string;
  let launching: Promise<Browser> | undefined;
  /** Chromium, started once by the first test that needs it; a failed start fails every test. */
  const browser = (): Promise<Browser> => (launching ??= launchChromium());

  before(async () => {
    broker = await startBroker({ wsPort: 0 });
    const bundle = mqttBundle();
    const html = pageHtml(WAIT_MS);
    http = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(html);
      } else if (req.url === '/mqtt.min.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(bundle);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
      }
    });
    await within(
      new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(0, '127.0.0.1', resolve);
      }),
      'test page server listen',
    );
    pageUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  });

  after(async () => {
    const started = launching;
    launching = undefined;
    if (started)
      await within(
        started.then(
          (b) => b.close(),
          () => undefined,
        ),
        'Chromium close',
        15_000,
      ).catch(() => undefined);
    http?.closeAllConnections();
    if (http) await within(new Promise<void>((resolve) => http.close(() => resolve())), 'test page server close');
    if (broker) await closeBroker(broker);
  });

  /** A fresh context and page with the test page loaded; page errors and console errors are collected for failure messages. */
  async function openPage(): Promise<{ page: Page; problems: string[]; close(): Promise<void> }> {
    const context = await within((await browser()).newContext(), 'browser context', LAUNCH_MS);
    const page = await within(context.newPage(), 'new page', LAUNCH_MS);
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.setDefaultTimeout(WAIT_MS);
    const response = await within(page.goto(pageUrl, { waitUntil: 'load', timeout: LAUNCH_MS }), 'page load', LAUNCH_MS + 1_000);
    assert.equal(response?.status(), 200);
    assert.equal(
      await within(
        page.evaluate(() => (globalThis as unknown as InPage).shoal.loaded),
        'page check',
      ),
      true,
      `mqtt.js bundle not loaded: ${problems.join('; ')}`,
    );
    return { page, problems, close: () => within(context.close(), 'browser context close', 10_000) };
  }

  for (const version of [4, 5] as const) {
    it(`subscribes, receives from a TCP client and publishes back to it (MQTT v${version})`, async (t) => {
      const started = Date.now();
      const down = uniqueTopic(`browser/v${version}/down`);
      const up = uniqueTopic(`browser/v${version}/up`);
      const clientId = `shoal-browser-v${version}-${process.pid}`;
      const { page, problems, close } = await openPage();
      const tcp = await connect(urlOf(broker, 'tcp'), version);
      const inPage = <T>(what: string, run: () => Promise<T>): Promise<T> =>
        within(run(), what, WAIT_MS + 1_000).catch((err: unknown) => {
          throw new Error(
            `${what} in the browser: ${err instanceof Error ? err.message : String(err)}${problems.length ? ` (${problems.join('; ')})` : ''}`,
          );
        });
      try {
        const connected = within(
          new Promise<SessionEventDetails['client-connected']>((resolve) => {
            const onConnected = (id: string, detail: SessionEventDetails['client-connected']): void => {
              if (id !== clientId) return;
              broker.off('client-connected', onConnected);
              resolve(detail);
            };
            broker.on('client-connected', onConnected);
          }),
          `client-connected of ${clientId}`,
        );
        const connack = await inPage('connect', () =>
          page.evaluate(([url, v, id]) => (globalThis as unknown as InPage).shoal.connect(url, v, id), [
            urlOf(broker, 'ws'),
            version,
            clientId,
          ] as const),
        );
        assert.equal(connack.sessionPresent, false);
        const detail = await connected;
        assert.equal(detail['transport'], 'ws', 'the browser connected over WebSocket');
        assert.equal(detail['protocolVersion'], version);

        assert.deepEqual(
          await inPage('subscribe', () => page.evaluate(([t]) => (globalThis as unknown as InPage).shoal.subscribe(t, 1), [down] as const)),
          [1],
        );
        await within(tcp.client.subscribeAsync(up, { qos: 1 }), 'TCP SUBACK');

        const downText = `from tcp to the browser, v${version}: héllo ✓`;
        await within(tcp.client.publishAsync(down, downText, { qos: 1 }), 'TCP PUBACK');
        const received = await inPage('message', () => page.evaluate(() => (globalThis as unknown as InPage).shoal.message(1)));
        assert.equal(received.topic, down);
        assert.equal(received.payload, downText);
        assert.equal(received.qos, 1);

        const upText = `from the browser to tcp, v${version}: ✓`;
        const properties = version === 5 ? { userProperties: { from: 'chromium' }, contentType: 'text/plain' } : undefined;
        assert.equal(
          await inPage('publish', () =>
            page.evaluate(([t, text, props]) => (globalThis as unknown as InPage).shoal.publish(t, text, 1, props ?? undefined), [
              up,
              upText,
              properties ?? null,
            ] as const),
          ),
          true,
        );
        const back = await tcp.message(1);
        assert.equal(back.topic, up);
        assert.equal(back.payload.toString(), upText);
        assert.equal(back.qos, 1);
        if (version === 5) {
          assert.deepEqual({ ...back.properties?.userProperties }, { from: 'chromium' });
          assert.equal(back.properties?.contentType, 'text/plain');
        }
        await inPage('end', () => page.evaluate(() => (globalThis as unknown as InPage).shoal.end()));
        assert.deepEqual(problems, []);
      } finally {
        await tcp.end();
        await close();
      }
      // How long it took, Chromium's start included for the first test.
      t.diagnostic(`browser round trip v${version}: ${Date.now() - started} ms`);
    });
  }
});
