/**
 * The broker's Prometheus metrics, through prom-client: one registry per
 * broker with the process's CPU, memory and start time under the usual
 * `process_`/`nodejs_` names, and Shoal's own under `shoal_` (event loop
 * and GC per thread included). prom-client's collectDefaultMetrics is not
 * used: its open-file, handle and resource counts list every socket on each
 * scrape, which made a scrape of a broker with 1,000 clients cost about 7 ms
 * of the main thread (bench/micro/watch.bench.ts). A scrape takes one `Broker.stats()` snapshot (the
 * hosts' figures come over the control plane, once per scrape, never per
 * message) and every metric's collect() reads it. Labels stay bounded:
 * packet type, QoS, reason, transport, protocol, host index, thread; never a
 * client id or a topic. Main thread.
 */
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Registry, type CounterConfiguration, type GaugeConfiguration } from 'prom-client';
import { ReasonCode } from '../../shared/codec/reason-codes.js';
import type { BatchStats } from '../../shared/channel/outbox.js';
import type { ThreadLoadStats } from '../../shared/thread-load.js';
import type { BrokerStats } from '../broker-stats.js';
import { PACKET_TYPE_NAMES } from '../net/traffic.js';
import { dropTotals, threadLoads } from './stats-views.js';

/** The CONNACK results that are refused logins. */
const AUTH_FAILURES: ReadonlySet<number> = new Set([
  ReasonCode.BadUserNameOrPassword,
  ReasonCode.NotAuthorized,
  ReasonCode.BadAuthenticationMethod,
  ReasonCode.Banned,
]);

/** snake_case names of the reason codes (the first name of a code shared by several: CONNACK's own come first). */
const REASON_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(ReasonCode)) {
  if (!REASON_NAMES.has(code)) REASON_NAMES.set(code, name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());
}

/** A reason code's label value: its snake_case name, else its hex. */
export function reasonLabel(code: number): string {
  return REASON_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** The protocol label of a CONNECT's protocol level (0: no CONNECT yet). */
const PROTOCOLS: Record<number, string> = { 0: 'none', 3: '3.1', 4: '3.1.1', 5: '5.0' };

/** Each host's batches, both directions. */
function batchFlows(stats: BrokerStats): [Record<string, string>, BatchStats][] {
  const flows: [Record<string, string>, BatchStats][] = [];
  stats.batchesToHosts.forEach((batches, host) => flows.push([{ host: String(host), direction: 'to_host' }, batches]));
  for (const host of stats.hosts) flows.push([{ host: String(host.host), direction: 'to_main' }, host.batches]);
  return flows;
}

export class BrokerMetrics {
  readonly registry = new Registry();
  /** The snapshot of the scrape in progress. */
  private snapshot: BrokerStats | undefined;

  constructor(private readonly stats: () => Promise<BrokerStats>) {
    this.define();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** One scrape: a fresh snapshot, then the text format. */
  async scrape(): Promise<string> {
    this.snapshot = await this.stats();
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = undefined;
    }
  }

  private define(): void {
    type SetValue<L extends string> = (labels: Partial<Record<L, string>>, value: number) => void;
    type Fill<L extends string> = (set: SetValue<L>, s: BrokerStats) => void;
    const registers = [this.registry];
    /** Clears `metric` and fills it from the scrape's snapshot (nothing outside a scrape). */
    const refill = <L extends string>(metric: { reset(): void }, fill: Fill<L>, set: SetValue<L>): void => {
      const s = this.snapshot;
      if (s === undefined) return;
      metric.reset();
      fill(set, s);
    };
    const counter = <L extends string>(config: CounterConfiguration<L>, fill: Fill<L>): void => {
      new Counter<L>({
        ...config,
        registers,
        collect() {
          refill(this, fill, (labels, value) => this.inc(labels, value));
        },
      });
    };
    const gauge = <L extends string>(config: GaugeConfiguration<L>, fill: Fill<L>): void => {
      new Gauge<L>({
        ...config,
        registers,
        collect() {
          refill(this, fill, (labels, value) => this.set(labels, value));
        },
      });
    };

    // The process.
    counter({ name: 'process_cpu_seconds_total', help: 'User and system CPU time of the process (every thread)' }, (set) => {
      const { user, system } = process.cpuUsage();
      set({}, (user + system) / 1e6);
    });
    gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory of the process' }, (set) => set({}, process.memoryUsage.rss()));
    gauge({ name: 'process_start_time_seconds', help: 'Start of the process, in seconds since the epoch' }, (set) =>
      set({}, Math.round(Date.now() / 1000 - process.uptime())),
    );
    gauge({ name: 'nodejs_heap_size_used_bytes', help: "The main thread's V8 heap in use" }, (set) =>
      set({}, getHeapStatistics().used_heap_size),
    );
    gauge({ name: 'nodejs_heap_size_total_bytes', help: "The main thread's V8 heap" }, (set) =>
      set({}, getHeapStatistics().total_heap_size),
    );

    // Connections and logins.
    gauge(
      {
        name: 'shoal_connections',
        help: 'Open client connections by transport and protocol version',
        labelNames: ['transport', 'protocol'],
      },
      (set, s) => {
        for (const c of s.connectionsBy)
          set({ transport: c.transport, protocol: PROTOCOLS[c.protocolVersion] ?? String(c.protocolVersion) }, c.count);
      },
    );
    counter(
      { name: 'shoal_connects_total', help: 'CONNACKs sent, by result (reason code name; success = accepted)', labelNames: ['result'] },
      (set, s) => {
        for (const [code, n] of Object.entries(s.traffic.connacks)) set({ result: reasonLabel(Number(code)) }, n);
      },
    );
    counter({ name: 'shoal_auth_failures_total', help: 'Logins refused, by reason', labelNames: ['reason'] }, (set, s) => {
      for (const [code, n] of Object.entries(s.traffic.connacks))
        if (AUTH_FAILURES.has(Number(code))) set({ reason: reasonLabel(Number(code)) }, n);
    });

    // Packets and bytes on the client connections.
    for (const [direction, verb] of [
      ['received', 'received from'],
      ['sent', 'sent to'],
    ] as const) {
      counter(
        { name: `shoal_packets_${direction}_total`, help: `MQTT packets ${verb} clients, by packet type`, labelNames: ['type'] },
        (set, s) => {
          for (const type of PACKET_TYPE_NAMES.slice(1)) set({ type }, s.traffic[direction][type].packets);
        },
      );
      counter(
        { name: `shoal_bytes_${direction}_total`, help: `Bytes of MQTT packets ${verb} clients, by packet type`, labelNames: ['type'] },
        (set, s) => {
          for (const type of PACKET_TYPE_NAMES.slice(1)) set({ type }, s.traffic[direction][type].bytes);
        },
      );
    }

    // Messages.
    counter(
      {
        name: 'shoal_messages_routed_total',
        help: 'Messages routed (published by clients, wills, the application or other nodes), by QoS',
        labelNames: ['qos'],
      },
      (set, s) => {
        s.router.routedByQos.forEach((n, qos) => set({ qos: String(qos) }, n));
      },
    );
    counter(
      { name: 'shoal_messages_delivered_total', help: 'PUBLISH packets sent to clients, by QoS (resends included)', labelNames: ['qos'] },
      (set, s) => {
        s.traffic.publishSentByQos.forEach((n, qos) => set({ qos: String(qos) }, n));
      },
    );
    counter(
      {
        name: 'shoal_message_drops_total',
        help: 'Messages dropped, by reason (slow_consumer_qos0: a client that did not read fast enough)',
        labelNames: ['reason'],
      },
      (set, s) => {
        for (const [reason, n] of Object.entries(dropTotals(s))) set({ reason }, n);
      },
    );

    // Sessions, queues, subscriptions, retained messages.
    const perHost = (name: string, help: string, pick: (h: BrokerStats['hosts'][number]) => number): void =>
      gauge({ name, help, labelNames: ['host'] }, (set, s) => {
        for (const h of s.hosts) set({ host: String(h.host) }, pick(h));
      });
    perHost('shoal_sessions', 'Sessions (connected or not) held by each actor host', (h) => h.sessions);
    perHost('shoal_sessions_connected', 'Sessions with a connected client, by actor host', (h) => h.connected);
    perHost('shoal_queued_messages', 'Messages queued for sessions beyond their inflight window, by actor host', (h) => h.queued);
    perHost('shoal_queued_bytes', 'Estimated bytes of the queued messages, by actor host', (h) => h.queuedBytes);
    perHost('shoal_inflight_messages', 'QoS 1/2 messages sent and not yet acknowledged, by actor host', (h) => h.inflight);
    gauge({ name: 'shoal_subscriptions', help: 'Subscriptions (a shared subscription group counts once)' }, (set, s) =>
      set({}, s.router.subscriptions),
    );
    gauge({ name: 'shoal_retained_messages', help: 'Retained messages' }, (set, s) => set({}, s.router.retained));
    gauge({ name: 'shoal_retained_bytes', help: 'Estimated bytes of the retained messages' }, (set, s) => set({}, s.router.retainedBytes));

    // Threads: event loop, GC.
    const perThread = (config: { name: string; help: string }, kind: 'counter' | 'gauge', pick: (t: ThreadLoadStats) => number): void => {
      const fill = (set: (labels: Partial<Record<'thread', string>>, value: number) => void, s: BrokerStats): void => {
        for (const [thread, load] of threadLoads(s)) set({ thread }, pick(load));
      };
      if (kind === 'counter') counter({ ...config, labelNames: ['thread'] }, fill);
      else gauge({ ...config, labelNames: ['thread'] }, fill);
    };
    const threadMetrics: Array<[string, string, 'counter' | 'gauge', (t: ThreadLoadStats) => number]> = [
      ['shoal_thread_event_loop_active_seconds_total', 'Time the thread ran code (rate = utilisation)', 'counter', (t) => t.activeSeconds],
      ['shoal_thread_event_loop_idle_seconds_total', 'Time the thread waited for I/O', 'counter', (t) => t.idleSeconds],
      [
        'shoal_thread_event_loop_delay_p99_seconds',
        'Event-loop delay, 99th percentile over the last few seconds',
        'gauge',
        (t) => t.delayP99Seconds,
      ],
      [
        'shoal_thread_event_loop_delay_mean_seconds',
        'Event-loop delay, mean over the last few seconds',
        'gauge',
        (t) => t.delayMeanSeconds,
      ],
      [
        'shoal_thread_event_loop_delay_max_seconds',
        'Event-loop delay, longest over the last few seconds',
        'gauge',
        (t) => t.delayMaxSeconds,
      ],
      ['shoal_thread_gc_total', 'Garbage collections of the thread', 'counter', (t) => t.gcCount],
      ['shoal_thread_gc_pause_seconds_total', 'Time the thread spent in garbage collection pauses', 'counter', (t) => t.gcSeconds],
      ['shoal_thread_gc_pause_max_seconds', 'Longest garbage collection pause of the thread', 'gauge', (t) => t.gcMaxSeconds],
    ];
    for (const [name, help, kind, pick] of threadMetrics) perThread({ name, help }, kind, pick);

    // The cluster link (only when the node joined a cluster).
    gauge({ name: 'shoal_cluster_link_up', help: 'The node is linked to NATS (1) or not (0); absent outside a cluster' }, (set, s) => {
      if (s.cluster) set({}, s.cluster.linked ? 1 : 0);
    });
    counter({ name: 'shoal_cluster_link_losses_total', help: 'Times the link to NATS went down' }, (set, s) => {
      if (s.cluster) set({}, s.cluster.linkLosses);
    });
    for (const [direction, messages, bytes] of [
      ['out', 'forwarded', 'forwardedBytes'],
      ['in', 'received', 'receivedBytes'],
    ] as const) {
      const what = direction === 'out' ? 'published on NATS for the other nodes' : 'of other nodes routed here';
      counter({ name: `shoal_cluster_messages_${direction}_total`, help: `Messages ${what}` }, (set, s) => {
        if (s.cluster) set({}, s.cluster[messages]);
      });
      counter({ name: `shoal_cluster_bytes_${direction}_total`, help: `Bytes on the NATS link of the messages ${what}` }, (set, s) => {
        if (s.cluster) set({}, s.cluster[bytes]);
      });
    }
    counter(
      {
        name: 'shoal_cluster_drops_total',
        help: 'Messages not forwarded to the other nodes (larger than NATS max_payload, or routed while the link was down)',
      },
      (set, s) => {
        if (s.cluster) set({}, s.cluster.dropped);
      },
    );
    counter(
      {
        name: 'shoal_cluster_retained_put_failures_total',
        help: 'Retained messages the retained bucket did not take at once (each is put again)',
      },
      (set, s) => {
        if (s.cluster) set({}, s.cluster.retainedFailed);
      },
    );
    gauge({ name: 'shoal_cluster_subscriptions', help: 'NATS subscriptions held for the local interest' }, (set, s) => {
      if (s.cluster) set({}, s.cluster.subscriptions);
    });
    counter(
      { name: 'shoal_cluster_sessions_total', help: 'Session ownership changes of this node, by event', labelNames: ['event'] },
      (set, s) => {
        const c = s.cluster;
        if (!c) return;
        set({ event: 'claimed' }, c.claims);
        set({ event: 'taken_over' }, c.takenOver);
        set({ event: 'taken_without_state' }, c.takenWithoutState);
        set({ event: 'handed_over' }, c.handedOver);
        set({ event: 'evicted' }, c.evicted);
      },
    );

    // Data-plane batches between the main thread and each host.
    for (const [field, what] of [
      ['batches', 'Data-plane batches'],
      ['frames', 'Frames in the data-plane batches'],
      ['bytes', 'Bytes of the data-plane batches'],
    ] as const) {
      const name = field === 'batches' ? 'shoal_batches_total' : `shoal_batch_${field}_total`;
      counter(
        {
          name,
          help: `${what} between the main thread and each actor host (mean batch = frames or bytes / batches)`,
          labelNames: ['host', 'direction'],
        },
        (set, s) => {
          for (const [labels, batches] of batchFlows(s)) set(labels, batches[field]);
        },
      );
    }
  }
}
