/**
 * The monitoring server's health checks over HTTP: `/healthz` answers while
 * the process serves; `/readyz` is ready once every listener is up and every
 * actor host answers, turns unready (503) while a worker host is down and
 * its replacement has not loaded, and ready again once it has. Unknown paths
 * get 404, other methods 405. The server is gone after close().
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { once } from '../helpers/clients.js';
import type { Readiness } from '../../src/main/broker-stats.js';

const GATED_PLUGIN = fileURLToPath(new URL('./fixtures/gated-plugin.js', import.meta.url));
/** Polling /readyz for a change: at most this long. */
const READY_WAIT_MS = 15_000;

function monitorUrl(b: TestBroker, path: string): string {
  const address = b.broker.addresses().metrics;
  assert.ok(address, 'the monitoring server listens');
  return `http://127.0.0.1:${address.port}${path}`;
}

async function readyz(b: TestBroker): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(monitorUrl(b, '/readyz'), { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Readiness };
}

/** Asks /readyz until it answers `status`; every answer is a round trip, no fixed sleep. */
async function readyzUntil(b: TestBroker, status: number): Promise<Readiness> {
  const deadline = Date.now() + READY_WAIT_MS;
  for (;;) {
    const answer = await readyz(b);
    if (answer.status === status) return answer.body;
    if (Date.now() > deadline)
      assert.fail(`/readyz still answers ${answer.status} (${JSON.stringify(answer.body)}), waiting for ${status}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function workerThreads(b: TestBroker): ReadonlyArray<Worker> {
  // The broker's host supervisor and its piscina launcher (src/main/hosts/supervisor.ts, worker-hosts.ts).
  return (b.broker as unknown as { hosts: { launcher: { threads: ReadonlyArray<Worker> } } }).hosts.launcher.threads;
}

describe('health checks', () => {
  test('/healthz answers ok; unknown paths 404; methods other than GET and HEAD 405', async () => {
    const b = await startBroker({ workers: 0, metricsPort: 0 });
    try {
      const health = await fetch(monitorUrl(b, '/healthz'));
      assert.equal(health.status, 200);
      assert.equal(await health.text(), 'ok\n');
      assert.equal((await fetch(monitorUrl(b, '/nothing-here'))).status, 404);
      const post = await fetch(monitorUrl(b, '/metrics'), { method: 'POST', body: 'x' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      const head = await fetch(monitorUrl(b, '/healthz'), { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    } finally {
      await b.close();
    }
    assert.equal(b.broker.addresses().metrics, undefined, 'closed with the broker');
  });

  test('/readyz: ready with every listener and host up; 503 while a worker host is down; ready again after its replacement loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-readyz-'));
    const gate = join(dir, 'hold-restarts');
    const b = await startBroker({ workers: 2, metricsPort: 0, wsPort: 0, plugins: [{ module: GATED_PLUGIN, options: { gate } }] });
    try {
      const up = await readyz(b);
      assert.equal(up.status, 200);
      assert.deepEqual(up.body, { ready: true, listeners: true, hosts: [true, true], store: true, bridge: true });

      // The next host to load waits for the gate: the replacement of the worker killed now.
      writeFileSync(gate, '');
      const failed = once(b.broker, 'host-failed', 10_000);
      await (workerThreads(b)[0] as Worker).terminate();
      const [deadHost] = (await failed) as [number];
      const down = await readyzUntil(b, 503);
      assert.equal(down.ready, false);
      assert.equal(down.hosts[deadHost], false, 'the failed host is not ready');
      assert.equal(down.hosts[1 - deadHost], true, 'the other host is');
      assert.equal(down.listeners, true);

      rmSync(gate);
      const back = await readyzUntil(b, 200);
      assert.deepEqual(back.hosts, [true, true]);
    } finally {
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
