/**
 * The live status page at `/` of the monitoring server, rendered in headless
 * Chromium (see test/helpers/chromium.ts): it shows the connection the test
 * opened with mqtt.js among the sessions with the most packets, counts it
 * among the connections, and updates as the client keeps publishing. A
 * client id is shown as text, never run as markup.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { chromiumSkip, launchChromium, LAUNCH_MS } from '../helpers/chromium.js';
import { brokerForSuite } from '../helpers/broker.js';
import { connectClient, uniqueTopic, withBound } from '../helpers/clients.js';

/** What the page's code reads of the page (the test compiles without the DOM's types). */
interface PageGlobals {
  document: { querySelectorAll(selector: string): Iterable<{ children: ArrayLike<{ textContent: string | null } | undefined> }> };
}

const served = brokerForSuite({ workers: 1, metricsPort: 0 });

describe('status page in headless Chromium', { skip: chromiumSkip }, () => {
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
  });

  test('shows the connection the test opened, its packets, and the live figures', async () => {
    // A client id that would be markup if the page wrote it as HTML.
    const clientId = `status-<b>probe</b>-${process.pid}`;
    const client = await connectClient(served.port, { version: 5, clientId });
    const topic = uniqueTopic('status');
    for (let i = 0; i < 5; i++) await client.publishAsync(topic, 'x', { qos: 1 });

    browser = await launchChromium();
    const page = await browser.newPage();
    const { port } = served.broker.addresses().metrics!;
    const response = await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load', timeout: LAUNCH_MS });
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Shoal status');

    const row = page.locator('#top-packets tbody tr', { hasText: clientId });
    await withBound(row.first().waitFor({ timeout: LAUNCH_MS }), LAUNCH_MS + 1_000, 'the client in the top sessions');
    const cells = await row.first().locator('td').allTextContents();
    assert.equal(cells[0], clientId, 'the client id, as text');
    assert.equal(cells[3], 'yes', 'connected');
    assert.ok(Number(cells[4]?.replace(/,/g, '')) >= 5, `packets in: ${cells[4]}`);
    assert.equal(await page.locator('#top-packets b').count(), 0, 'no markup from a client id');
    assert.ok(Number((await page.locator('#connections').textContent())?.replace(/,/g, '')) >= 1);
    assert.equal(await page.locator('#threads tbody tr').count(), 2, 'the main thread and the worker host');

    // The page refreshes by itself: more packets show up without a reload.
    const before = Number(cells[4]?.replace(/,/g, ''));
    for (let i = 0; i < 5; i++) await client.publishAsync(topic, 'y', { qos: 1 });
    await withBound(
      page.waitForFunction(
        ({ id, count }) =>
          [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#top-packets tbody tr')].some(
            (tr) => tr.children[0]?.textContent === id && Number(tr.children[4]?.textContent?.replace(/,/g, '')) >= count,
          ),
        { id: clientId, count: before + 5 },
        { timeout: LAUNCH_MS },
      ),
      LAUNCH_MS + 1_000,
      'the page refreshing',
    );
    assert.equal(await page.locator('#error').textContent(), '');
  });
});
