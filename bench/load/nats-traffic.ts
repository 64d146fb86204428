/**
 * The NATS traffic of a cluster under test over a measured phase, read by the
 * load generator process (bench/load/generator.ts): nats-server's own counters
 * from its monitoring endpoint (`/varz`: messages and payload bytes in and
 * out) and the bytes its process read and wrote (/proc/<pid>/io `rchar` +
 * `wchar`: the payloads with the NATS protocol around them, on every socket).
 * The counters are read before the phase's start and after its end so that
 * the monitoring requests themselves fall outside the window. From the sums
 * over a scenario's phases come its per-routed-message figures: every message
 * a node routes is published on NATS once, so the messages into nats-server
 * in a window with no connects are the messages routed on the publishers'
 * node.
 */
import { readFileSync } from 'node:fs';
import type { Metric, NatsProcess, PhaseStats } from './result.js';

interface Counters {
  natsInMsgs: number;
  natsOutMsgs: number;
  natsInBytes: number;
  natsOutBytes: number;
  natsWireBytes: number;
}

const KEYS = ['natsInMsgs', 'natsOutMsgs', 'natsInBytes', 'natsOutBytes', 'natsWireBytes'] as const;

async function varz(nats: NatsProcess): Promise<Omit<Counters, 'natsWireBytes'>> {
  const response = await fetch(`http://127.0.0.1:${nats.monitorPort}/varz`);
  if (!response.ok) throw new Error(`nats-server /varz answered ${response.status}`);
  const v = (await response.json()) as { in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number };
  return { natsInMsgs: v.in_msgs, natsOutMsgs: v.out_msgs, natsInBytes: v.in_bytes, natsOutBytes: v.out_bytes };
}

/** Bytes nats-server read and wrote through system calls (sockets and files). */
function ioBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return field('rchar') + field('wchar');
}

/** Starts counting the cluster's NATS traffic; `end()` gives what passed since, as phase details. */
export async function natsWindow(nats: NatsProcess): Promise<{ end(): Promise<Counters> }> {
  const before: Counters = { ...(await varz(nats)), natsWireBytes: ioBytes(nats.pid) };
  return {
    async end(): Promise<Counters> {
      const wire = ioBytes(nats.pid);
      const after: Counters = { ...(await varz(nats)), natsWireBytes: wire };
      return Object.fromEntries(KEYS.map((k) => [k, after[k] - before[k]])) as unknown as Counters;
    },
  };
}

/** The scenario's NATS figures per routed message, from the NATS details of its phases; none against one broker. */
export function natsMetrics(phases: readonly PhaseStats[]): Metric[] {
  const sum = (key: (typeof KEYS)[number]): number => phases.reduce((n, p) => n + (Number(p.detail[key]) || 0), 0);
  const routed = sum('natsInMsgs');
  if (routed === 0) return [];
  const per = (value: number): number => Math.round((value / routed) * 100) / 100;
  return [
    {
      key: 'nats-wire',
      label: 'NATS bytes per routed message, read + written by nats-server',
      value: per(sum('natsWireBytes')),
      unit: 'B',
      better: 'lower',
    },
    { key: 'nats-payload', label: 'NATS payload per routed message, in', value: per(sum('natsInBytes')), unit: 'B', better: 'lower' },
    { key: 'nats-out', label: 'NATS deliveries per routed message', value: per(sum('natsOutMsgs')), unit: '×', better: 'lower' },
  ];
}
