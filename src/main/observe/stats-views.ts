/**
 * Views of one `Broker.stats()` snapshot that the `$SYS` tree, the
 * Prometheus metrics and the status page share: each thread's load by name,
 * the drops over every host by reason, the packets and bytes of every packet
 * type together. Pure functions; main thread.
 */
import { HOST_DROP_REASONS } from '../../shared/channel/host-control.js';
import type { ThreadLoadStats } from '../../shared/thread-load.js';
import type { BrokerStats, TrafficStats } from '../broker-stats.js';

/** Each thread's load by its name: `main`, and `host-N` for a worker host (a host on the main thread has none of its own). */
export function threadLoads(stats: BrokerStats): Array<[string, ThreadLoadStats]> {
  const loads: Array<[string, ThreadLoadStats]> = [['main', stats.thread]];
  for (const host of stats.hosts) if (host.thread) loads.push([`host-${host.host}`, host.thread]);
  return loads;
}

/** Messages dropped over every host, by reason, and the main thread's QoS 0 drops of slow consumers. */
export function dropTotals(stats: BrokerStats): Record<string, number> {
  const drops: Record<string, number> = {};
  for (const [reason, field] of Object.entries(HOST_DROP_REASONS)) drops[reason] = stats.hosts.reduce((n, h) => n + h.drops[field], 0);
  drops['slow_consumer_qos0'] = stats.droppedQos0;
  return drops;
}

/** Packets and bytes of one direction, every packet type together. */
export function trafficTotals(direction: TrafficStats['received']): { packets: number; bytes: number } {
  let packets = 0,
    bytes = 0;
  for (const counts of Object.values(direction)) {
    packets += counts.packets;
    bytes += counts.bytes;
  }
  return { packets, bytes };
}
