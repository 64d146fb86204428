// Renders docs/status-page.png: a broker with two worker hosts, a few
// publishers and subscribers (one offline with a queue), and the status page
// in headless Chromium once it has shown two refreshes. Run after
// `npm run build`: node scripts/status-page-screenshot.js
import { chromium } from 'playwright-core';
import mqtt from 'mqtt';
import { createBroker } from '../dist/src/index.js';

const broker = createBroker({ port: 0, workers: 2, metricsPort: 0, logLevel: 'warn', sysInterval: 0 });
const { port } = await broker.listen();
const url = `mqtt://127.0.0.1:${port}`;
const clients = [];
const connect = async (clientId, options = {}) => {
  const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, ...options });
  clients.push(client);
  return client;
};

const offline = await connect('fleet-archiver', { clean: false, properties: { sessionExpiryInterval: 3600 } });
await offline.subscribeAsync('fleet/#', { qos: 1 });
await offline.endAsync();
const dashboard = await connect('dashboard-eu-1');
await dashboard.subscribeAsync('fleet/+/telemetry', { qos: 0 });
const sensors = await Promise.all(['truck-0017', 'truck-0042', 'truck-0108', 'van-0003'].map((id) => connect(id)));
let sent = 0;
const timer = setInterval(() => {
  sensors.forEach((sensor, i) => {
    for (let n = 0; n <= i * 3; n++)
      sensor.publish(`fleet/${sensor.options.clientId}/telemetry`, JSON.stringify({ n: sent++ }), { qos: 1 });
  });
}, 20);

const browser = await chromium.launch({
  executablePath: process.env.SHOAL_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 1250 } });
await page.goto(`http://127.0.0.1:${broker.addresses().metrics.port}/`);
// Two refreshes: the second shows rates.
await page.waitForFunction("!['0', '–'].includes(document.getElementById('publish-in').textContent)", undefined, { timeout: 20_000 });
await page.screenshot({ path: 'docs/status-page.png', fullPage: true });

clearInterval(timer);
await browser.close();
await Promise.all(clients.map((c) => c.endAsync()));
await broker.close();
