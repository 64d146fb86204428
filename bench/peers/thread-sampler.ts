/**
 * Where a Shoal target's CPU goes, thread by thread: reads the broker's own
 * `/metrics` (its monitoring server) before and after a scenario, and turns
 * the growth of each thread's event-loop busy time
 * (`shoal_thread_event_loop_active_seconds_total`, close to its CPU time:
 * code and the syscalls it makes) and of the packets sent into the busy time
 * per message of the main thread and of the actor hosts, and the bound that
 * Amdahl's law puts on the speed-up more workers can bring while the main
 * thread's share stays serial. Orchestrator process.
 */
import { parsePrometheus } from '../report/prometheus-text.js';

/** One reading of the broker's counters. */
export interface ThreadReading {
  /** Busy seconds since start, by thread (`main`, `host-N`). */
  active: Record<string, number>;
  publishesSent: number;
  publishesReceived: number;
  connacksSent: number;
}

export type CostUnit = 'publish' | 'delivery' | 'connect';

/** What a scenario's messages are counted in: the PUBLISHes in for fan-in (most are never delivered flat out), CONNACKs for the connection storm, deliveries elsewhere. */
export function costUnit(scenario: string): CostUnit {
  return scenario === 'fan-in' ? 'publish' : scenario === 'connection-storm' ? 'connect' : 'delivery';
}

/** A scenario's share of each thread, per message. */
export interface ThreadCost {
  /** What a message is here: a PUBLISH received from a client, one delivered to a client, or a CONNACK. */
  unit: CostUnit;
  messages: number;
  /** Busy µs per message of the main thread, and of every actor host thread together (0 with `workers: 0`). */
  mainUsPerMessage: number;
  hostsUsPerMessage: number;
  /** (main + hosts) ÷ main: the most any number of workers could speed this up while the main thread's work stays. */
  speedupBound: number;
}

/** A broker drains a flood for a while after its scenario; its answer may wait that long. */
const READ_TIMEOUT_MS = 30_000;

export async function readThreads(host: string, port: number): Promise<ThreadReading> {
  const response = await fetch(`http://${host}:${port}/metrics`, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`/metrics: HTTP ${response.status}`);
  const metrics = parsePrometheus(await response.text());
  const active: Record<string, number> = {};
  for (const sample of metrics.samples('shoal_thread_event_loop_active_seconds_total'))
    active[sample.labels['thread'] ?? '?'] = sample.value;
  return {
    active,
    publishesSent: metrics.value('shoal_packets_sent_total', { type: 'publish' }) ?? 0,
    publishesReceived: metrics.value('shoal_packets_received_total', { type: 'publish' }) ?? 0,
    connacksSent: metrics.value('shoal_packets_sent_total', { type: 'connack' }) ?? 0,
  };
}

/** The cost per message between two readings; null when nothing was delivered or connected. */
export function threadCost(before: ThreadReading, after: ThreadReading, unit: CostUnit): ThreadCost | null {
  const counted = { publish: 'publishesReceived', delivery: 'publishesSent', connect: 'connacksSent' } as const;
  const messages = after[counted[unit]] - before[counted[unit]];
  if (messages <= 0) return null;
  const grew = (thread: string): number => (after.active[thread] ?? 0) - (before.active[thread] ?? 0);
  const main = grew('main');
  const hosts = Object.keys(after.active)
    .filter((thread) => thread !== 'main')
    .reduce((sum, thread) => sum + grew(thread), 0);
  return {
    unit,
    messages,
    mainUsPerMessage: (main / messages) * 1e6,
    hostsUsPerMessage: (hosts / messages) * 1e6,
    speedupBound: main > 0 ? (main + hosts) / main : 1,
  };
}
