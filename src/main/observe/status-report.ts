/**
 * The figures of the status page (`/status.json`): one `Broker.stats()`
 * snapshot and the top sessions, with the rates and thread utilisation since
 * the previous report (messages, bytes and connects per second; each thread's
 * share of time running code). Keeps only the previous snapshot. Main thread.
 */
import type { SessionSummary } from '../../shared/channel/host-control.js';
import type { ThreadLoadStats } from '../../shared/thread-load.js';
import type { BrokerStats, BrokerWatch } from '../broker-stats.js';
import { dropTotals, threadLoads, trafficTotals } from './stats-views.js';
import { BROKER_VERSION } from './version.js';

/** Sessions in each top list of the page. */
const TOP_SESSIONS = 10;

export interface ThreadStatus {
  /** Share of the time since the previous report the thread ran code, 0..1; null on the first report. */
  utilisation: number | null;
  delayP99Ms: number;
}

export interface HostStatus {
  host: number;
  sessions: number;
  connected: number;
  queued: number;
  inflight: number;
  /** The host's own worker thread; null for a host on the main thread. */
  thread: ThreadStatus | null;
}

export interface StatusJson {
  version: string;
  uptimeSeconds: number;
  connections: number;
  connectionsBy: BrokerStats['connectionsBy'];
  /** Per second since the previous report (0 on the first). */
  rates: { publishIn: number; publishOut: number; bytesIn: number; bytesOut: number; connects: number };
  subscriptions: number;
  retained: number;
  drops: Record<string, number>;
  main: ThreadStatus;
  hosts: HostStatus[];
  topByQueue: SessionSummary[];
  topByPackets: SessionSummary[];
}

/** The counters the rates come from, and the threads' busy time. */
interface Sample {
  at: number;
  counters: StatusJson['rates'];
  threads: Map<string, ThreadLoadStats>;
}

export class StatusReport {
  private previous: Sample | undefined;

  constructor(private readonly broker: BrokerWatch) {}

  async report(): Promise<StatusJson> {
    const [stats, topByQueue, topByPackets] = await Promise.all([
      this.broker.stats(),
      this.broker.topSessions({ by: 'queue', limit: TOP_SESSIONS }),
      this.broker.topSessions({ by: 'packets', limit: TOP_SESSIONS }),
    ]);
    const { traffic } = stats;
    const sample: Sample = {
      at: Date.now(),
      counters: {
        publishIn: traffic.received.publish.packets,
        publishOut: traffic.sent.publish.packets,
        bytesIn: trafficTotals(traffic.received).bytes,
        bytesOut: trafficTotals(traffic.sent).bytes,
        connects: traffic.received.connect.packets,
      },
      threads: new Map(threadLoads(stats)),
    };
    const previous = this.previous;
    this.previous = sample;
    const seconds = previous ? (sample.at - previous.at) / 1000 : 0;
    const rate = (key: keyof StatusJson['rates']): number =>
      previous && seconds > 0 ? Math.max(0, Math.round((sample.counters[key] - previous.counters[key]) / seconds)) : 0;
    const thread = (name: string): ThreadStatus | null => {
      const now = sample.threads.get(name);
      if (!now) return null;
      const before = previous?.threads.get(name);
      const busy = before ? now.activeSeconds - before.activeSeconds : 0;
      const total = before ? busy + now.idleSeconds - before.idleSeconds : 0;
      return {
        utilisation: total > 0 ? Math.min(1, Math.max(0, busy / total)) : null,
        delayP99Ms: Math.round(now.delayP99Seconds * 1e5) / 100,
      };
    };
    return {
      version: BROKER_VERSION,
      uptimeSeconds: Math.floor(stats.uptimeSeconds),
      connections: stats.connections,
      connectionsBy: stats.connectionsBy,
      rates: {
        publishIn: rate('publishIn'),
        publishOut: rate('publishOut'),
        bytesIn: rate('bytesIn'),
        bytesOut: rate('bytesOut'),
        connects: rate('connects'),
      },
      subscriptions: stats.router.subscriptions,
      retained: stats.router.retained,
      drops: dropTotals(stats),
      main: thread('main')!,
      hosts: stats.hosts.map((h) => ({
        host: h.host,
        sessions: h.sessions,
        connected: h.connected,
        queued: h.queued,
        inflight: h.inflight,
        thread: thread(`host-${h.host}`),
      })),
      topByQueue,
      topByPackets,
    };
  }
}
