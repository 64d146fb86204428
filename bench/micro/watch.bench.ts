/**
 * Micro-benchmark of what watching a broker costs it: one `/metrics` scrape
 * (prom-client text of one `broker.stats()` snapshot, over loopback HTTP),
 * one `/status.json` (a snapshot and both top-10 session lists), and one
 * `$SYS` publication (a snapshot and about 70 retained messages routed), for
 * a broker holding 1,000 connected sessions, with its actor host inline
 * (`workers: 0`) and in one worker. The time per call times the calls per
 * second a watcher makes (a scrape each second, the status page every two,
 * `$SYS` every sysInterval) is the share of a core that watching takes. The
 * HTTP client runs in the same process, so the scrape figures include its
 * side too: an upper bound. Runs on the bench's main thread (plus one worker).
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Bench } from 'tinybench';
import { createBroker, type Broker } from '../../src/index.js';
import { SysTree } from '../../src/main/observe/sys-tree.js';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { onCleanup } from './task-info.js';

const SESSIONS = 1000;
const CONNECT_TIMEOUT_MS = 30_000;

interface Rig {
  broker: Broker;
  sockets: net.Socket[];
  metricsUrl: string;
  sys: SysTree;
}

/** Connects one raw 3.1.1 client and resolves on its CONNACK. */
function connectClient(port: number, clientId: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(mqttPacket.generate({ cmd: 'connect', clientId, keepalive: 0 })));
    const timer = setTimeout(() => reject(new Error(`no CONNACK for ${clientId}`)), CONNECT_TIMEOUT_MS);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function startRig(workers: number): Promise<Rig> {
  const broker = createBroker({ host: '127.0.0.1', port: 0, workers, logLevel: 'silent', metricsPort: 0, sysInterval: 0 });
  const { port } = await broker.listen();
  const sockets: net.Socket[] = [];
  for (let i = 0; i < SESSIONS; i += 100) {
    sockets.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => connectClient(port, `watch-${i + k}`)))));
  }
  const publish = (m: AppMessage): void => void broker.publish({ topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain });
  const sys = new SysTree({ stats: () => broker.stats(), publish }, 1, broker.log);
  return { broker, sockets, metricsUrl: `http://127.0.0.1:${broker.addresses().metrics!.port}`, sys };
}

async function getText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

export async function register(bench: Bench): Promise<void> {
  for (const workers of [0, 1]) {
    let rig: Rig | undefined;
    let unregister: (() => void) | undefined;
    const where = workers === 0 ? 'host inline' : 'host in a worker';
    const setup = {
      async: true,
      beforeAll: async () => {
        if (rig) return;
        rig = await startRig(workers);
        const r = rig;
        unregister = onCleanup(async () => {
          for (const socket of r.sockets) socket.destroy();
          await r.broker.close();
        });
      },
    };
    bench.add(`watch: GET /metrics, ${SESSIONS} sessions, ${where}`, async () => void (await getText(`${rig!.metricsUrl}/metrics`)), setup);
    bench.add(
      `watch: GET /status.json, ${SESSIONS} sessions, ${where}`,
      async () => void (await getText(`${rig!.metricsUrl}/status.json`)),
      setup,
    );
    bench.add(`watch: $SYS publication, ${SESSIONS} sessions, ${where}`, () => rig!.sys.publish(), {
      ...setup,
      afterAll: async (phase?: string) => {
        if (phase !== 'run') return;
        const r = rig;
        rig = undefined;
        unregister?.();
        if (!r) return;
        for (const socket of r.sockets) socket.destroy();
        await r.broker.close();
      },
    });
  }
}
