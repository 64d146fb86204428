/**
 * The slow-subscriber scenario, run inside the load generator process: one
 * subscriber on `bench/slow/+` (QoS 0) stops reading (its socket paused)
 * while 100 publishers send QoS 0 messages of SLOW_PAYLOAD_BYTES at a paced
 * total rate for the measured window. It samples the broker's RSS (start,
 * peak, at the end of sending), then lets the subscriber read again and
 * counts what it still gets: published − received is what the broker
 * dropped (kernel socket buffers included in what was received).
 */
import { encodePublish, LoadClient } from './client.js';
import { Phase, rssKiB, sleep, sumOver, waitSettled } from './measure.js';
import type { Metric } from './result.js';
import { clientOptions, connectAll, type ScenarioContext, type ScenarioOutcome } from './scenario-context.js';
import { PacedPump, RepeatSource } from './traffic.js';

const PUBLISHERS = 100;
export const SLOW_PAYLOAD_BYTES = 1024;
/** Total offered rate, msgs/s: well under every broker's fan-in capacity here, so memory, not CPU, is what moves. */
const SLOW_RATE = 10_000;
const TICK_MS = 5;
const RSS_SAMPLE_MS = 250;
/** After the subscriber reads again: wait until nothing arrives for this long. */
const DRAIN_QUIET_MS = 1_000;
const DRAIN_MAX_MS = 60_000;

export async function slowSubscriber(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const notes: string[] = [];
  const sub = await LoadClient.connect(clientOptions(ctx, 'slow-sub', 'subscriber'));
  await sub.subscribe('bench/slow/+', 0);
  sub.pause();
  const pubs = await connectAll(ctx, 'slow-pub', PUBLISHERS, 'publisher');
  const payload = Buffer.alloc(SLOW_PAYLOAD_BYTES, 0x73);
  const sources = pubs.map((_, i) => new RepeatSource(encodePublish(`bench/slow/${i}`, payload, 0, false)));

  const pids = ctx.opts.brokerPids;
  const rss = (): number | null => sumOver(pids, rssKiB);
  const rssStart = rss();
  let rssPeak = rssStart ?? 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rss() ?? 0);
  }, RSS_SAMPLE_MS);
  ctx.progress(`publishing at ${SLOW_RATE} msgs/s to a subscriber that does not read`);
  const send = new Phase('send, subscriber not reading', pids);
  const pump = new PacedPump(pubs, sources, SLOW_RATE, TICK_MS);
  pump.start();
  await sleep(ctx.opts.durationMs);
  pump.stop();
  await Promise.all(pubs.map((p) => p.ping()));
  clearInterval(sampler);
  const rssAtStop = rss();
  rssPeak = Math.max(rssPeak, rssAtStop ?? 0);
  const sendPhase = send.end({ sent: pump.sent, skipped: pump.skipped });
  if (sub.closed) notes.push('the broker closed the subscriber that did not read');

  ctx.progress('subscriber reading again');
  const drain = new Phase('subscriber reading again', pids);
  sub.resume();
  await waitSettled(() => sub.received, pump.sent, DRAIN_QUIET_MS, DRAIN_MAX_MS);
  const rssEnd = rss();
  const drainPhase = drain.end({ received: sub.received });
  for (const c of [...pubs, sub]) c.destroy();

  const mib = (kib: number | null): number => Math.round(((kib ?? 0) / 1024) * 10) / 10;
  const metrics: Metric[] = [
    { key: 'rss-start', label: 'broker RSS before sending', value: mib(rssStart), unit: 'MiB', better: 'lower' },
    { key: 'rss-peak', label: 'broker RSS peak while the subscriber did not read', value: mib(rssPeak), unit: 'MiB', better: 'lower' },
    { key: 'rss-stop', label: 'broker RSS when sending stopped', value: mib(rssAtStop), unit: 'MiB', better: 'lower' },
    { key: 'rss-end', label: 'broker RSS after the subscriber read again', value: mib(rssEnd), unit: 'MiB', better: 'lower' },
    { key: 'sent', label: `messages published (${SLOW_PAYLOAD_BYTES} B)`, value: pump.sent, unit: 'msgs', better: 'higher' },
    { key: 'dropped', label: 'messages the subscriber never got', value: pump.sent - sub.received, unit: 'msgs', better: 'lower' },
  ];
  if (rssStart === null) notes.push('broker RSS unavailable (no pid)');
  return { metrics, phases: [sendPhase, drainPhase], notes };
}
