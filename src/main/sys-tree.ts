/**
 * The broker's `$SYS` tree: every `sysInterval` seconds (and once when the
 * broker starts listening) the figures of `Broker.stats()` are published as
 * retained QoS 0 messages in the default pool, under Mosquitto's names where
 * Mosquitto has one (`$SYS/broker/version`, `uptime`, `clients/connected`,
 * `clients/disconnected`, `clients/total`, `publish/messages/received`,
 * `publish/messages/sent`, `retained messages/count`, `subscriptions/count`,
 * `heap/current`) and under `$SYS/broker/shoal/...` for Shoal's own (per
 * actor host: sessions, connected, queued messages and bytes, inflight,
 * drops by reason; QoS 0 drops of the main thread). Only the broker
 * publishes there (clients are refused, session-inbound.ts). Main thread.
 */
import { createRequire } from 'node:module';
import type { AppMessage } from '../shared/message/app-message.js';
import type { Logger } from '../shared/log.js';
import type { HostStats } from '../shared/channel/host-control.js';
import type { RouterStats } from './router/router.js';

/** The package's version, as `$SYS/broker/version` says it. */
const VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** The figures the tree publishes (what `Broker.stats()` answers). */
export interface SysStats {
  connections: number;
  router: RouterStats;
  hosts: HostStats[];
  droppedQos0: number;
}

/** What the tree needs of the broker. */
export interface SysSource {
  stats(): Promise<SysStats>;
  /** Routes a message of the broker in the default pool. */
  publish(message: AppMessage): void;
}

export class SysTree {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  /** A publication is being gathered: the next tick waits for none. */
  private busy = false;

  constructor(
    private readonly source: SysSource,
    private readonly intervalSeconds: number,
    private readonly log: Logger,
  ) {}

  /** Publishes now, then every interval; nothing with an interval of 0. */
  start(): void {
    if (this.intervalSeconds === 0 || this.timer !== undefined) return;
    this.timer = setInterval(() => void this.publish(), this.intervalSeconds * 1000);
    this.timer.unref();
    void this.publish();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async publish(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const stats = await this.source.stats();
      if (this.timer === undefined) return;
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
  private figures(stats: SysStats): Array<[string, string | number]> {
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
        [`${at}/drops/queue_full`, host.drops.queueFull],
        [`${at}/drops/max_packet_size_exceeded`, host.drops.packetTooLarge],
        [`${at}/drops/rate_limited`, host.drops.rateLimited],
        [`${at}/drops/expired`, host.drops.expired],
      );
    }
    return [
      ['version', `shoal ${VERSION}`],
      ['uptime', `${Math.floor((Date.now() - this.startedAt) / 1000)} seconds`],
      ['clients/connected', connected],
      ['clients/disconnected', sessions - connected],
      ['clients/total', sessions],
      ['publish/messages/received', stats.router.routed],
      ['publish/messages/sent', stats.router.delivered],
      ['retained messages/count', stats.router.retained],
      ['subscriptions/count', stats.router.subscriptions],
      ['heap/current', process.memoryUsage().heapUsed],
      ['shoal/connections', stats.connections],
      ['shoal/drops/slow_consumer_qos0', stats.droppedQos0],
      ...figures,
    ];
  }
}
