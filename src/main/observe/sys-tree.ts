/**
 * The broker's `$SYS` tree: every `sysInterval` seconds (and once when the
 * broker starts listening) the figures of `Broker.stats()` are published as
 * retained QoS 0 messages in the default pool, under Mosquitto's names where
 * Mosquitto has one (`$SYS/broker/version`, `uptime`, `clients/connected`,
 * `clients/disconnected`, `clients/total`, `messages/received`,
 * `messages/sent` (packets of every type), `bytes/received`, `bytes/sent`,
 * `publish/messages/received`, `publish/messages/sent`,
 * `load/{messages,publish,bytes}/{received,sent}/{1min,5min,15min}`,
 * `load/connections/...`, `retained messages/count`, `subscriptions/count`,
 * `heap/current`) and under `$SYS/broker/shoal/...` for Shoal's own (per
 * actor host: sessions, connected, queued messages and bytes, inflight,
 * drops by reason, its thread's event-loop delay; the main thread's; QoS 0
 * drops of the main thread). Only the broker publishes there (clients are
 * refused, session-inbound.ts). Main thread.
 */
import type { AppMessage } from '../../shared/message/app-message.js';
import type { Logger } from '../../shared/log.js';
import { HOST_DROP_REASONS } from '../../shared/channel/host-control.js';
import type { ThreadLoadStats } from '../../shared/thread-load.js';
import type { BrokerStats } from '../broker-stats.js';
import { LoadAverages } from './load-average.js';
import { trafficTotals } from './stats-views.js';
import { BROKER_VERSION } from './version.js';

/** What the tree needs of the broker. */
export interface SysSource {
  stats(): Promise<BrokerStats>;
  /** Routes a message of the broker in the default pool. */
  publish(message: AppMessage): void;
}

/** A thread's event-loop delay figures, in milliseconds. */
function delayFigures(at: string, load: ThreadLoadStats): Array<[string, number]> {
  const ms = (seconds: number): number => Math.round(seconds * 1e6) / 1000;
  return [
    [`${at}/event_loop/delay_p99_ms`, ms(load.delayP99Seconds)],
    [`${at}/event_loop/delay_max_ms`, ms(load.delayMaxSeconds)],
  ];
}

export class SysTree {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly loads = new LoadAverages();
  /** A publication is being gathered: the next tick waits for none. */
  private busy = false;

  constructor(
    private readonly source: SysSource,
    private readonly intervalSeconds: number,
    private readonly log: Logger,
  ) {}

  /** Publishes now, then every interval; nothing with an interval of 0. */
  start(): void {
    if (this.intervalSeconds === 0 || this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => void this.publish(), this.intervalSeconds * 1000);
    this.timer.unref();
    void this.publish();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Gathers the figures and publishes them (what each tick does); none once stopped, none while one is being gathered. */
  async publish(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const stats = await this.source.stats();
      if (this.stopped) return;
      for (const [topic, value] of this.figures(stats)) {
        this.source.publish({ topic: `$SYS/broker/${topic}`, payload: Buffer.from(String(value)), qos: 0, retain: true });
      }
    } catch (err) {
      this.log.warn({ err }, '$SYS figures could not be gathered');
    } finally {
      this.busy = false;
    }
  }

  /** Topic (below `$SYS/broker/`) and value of every figure. */
  private figures(stats: BrokerStats): Array<[string, string | number]> {
    let sessions = 0,
      connected = 0;
    const figures: Array<[string, string | number]> = [];
    for (const host of stats.hosts) {
      sessions += host.sessions;
      connected += host.connected;
      const at = `shoal/hosts/${host.host}`;
      figures.push(
        [`${at}/sessions`, host.sessions],
        [`${at}/connected`, host.connected],
        [`${at}/queued/messages`, host.queued],
        [`${at}/queued/bytes`, host.queuedBytes],
        [`${at}/inflight`, host.inflight],
      );
      for (const [reason, field] of Object.entries(HOST_DROP_REASONS)) figures.push([`${at}/drops/${reason}`, host.drops[field]]);
      if (host.thread) figures.push(...delayFigures(at, host.thread));
    }
    const received = trafficTotals(stats.traffic.received);
    const sent = trafficTotals(stats.traffic.sent);
    const counters = {
      'messages/received': received.packets,
      'messages/sent': sent.packets,
      'publish/received': stats.traffic.received.publish.packets,
      'publish/sent': stats.traffic.sent.publish.packets,
      'bytes/received': received.bytes,
      'bytes/sent': sent.bytes,
      connections: stats.traffic.received.connect.packets,
    };
    const loads = this.loads.update(counters, Date.now()).map(([name, perMinute]): [string, number] => [`load/${name}`, perMinute]);
    return [
      ['version', `shoal ${BROKER_VERSION}`],
      ['uptime', `${Math.floor(stats.uptimeSeconds)} seconds`],
      ['clients/connected', connected],
      ['clients/disconnected', sessions - connected],
      ['clients/total', sessions],
      ['messages/received', received.packets],
      ['messages/sent', sent.packets],
      ['bytes/received', received.bytes],
      ['bytes/sent', sent.bytes],
      ['publish/messages/received', stats.router.routed],
      ['publish/messages/sent', stats.router.delivered],
      ['publish/bytes/received', stats.traffic.received.publish.bytes],
      ['publish/bytes/sent', stats.traffic.sent.publish.bytes],
      ['retained messages/count', stats.router.retained],
      ['subscriptions/count', stats.router.subscriptions],
      ['heap/current', process.memoryUsage().heapUsed],
      ...loads,
      ['shoal/connections', stats.connections],
      ['shoal/drops/slow_consumer_qos0', stats.droppedQos0],
      ...delayFigures('shoal/main', stats.thread),
      ...figures,
    ];
  }
}
