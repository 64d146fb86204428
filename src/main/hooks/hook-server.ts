/**
 * The main thread's end of the hook channel to the actor hosts: tells each
 * host which hooks the in-process plugins implement (a `plugins` frame), and
 * serves the hosts' `hookCall` frames by running the in-process chain
 * (registry.ts), answering an all_till_ok chain with `hookResult` when it
 * settles. Main thread; never awaits.
 */
import type { Outbox } from '../../shared/channel/outbox.js';
import { writeHookResult, writePlugins, type ControlFrame } from '../../shared/channel/frames.js';
import type { PluginRegistry } from './registry.js';

export type HookCall = Extract<ControlFrame, { kind: 'hookCall' }>;

export class HookServer {
  /** `outboxes`: the data plane's live outbox per host; a restarted host gets a new one. */
  constructor(
    private readonly registry: PluginRegistry,
    private readonly outboxes: readonly Outbox[],
  ) {}

  /** Tells host `host` which hooks the in-process plugins implement; nothing while there is no in-process plugin. */
  announce(host: number): void {
    if (this.registry.plugins.length === 0) return;
    const outbox = this.outboxes[host] as Outbox;
    writePlugins(outbox.writer, this.registry.hookNames());
    outbox.commit();
  }

  /** The in-process plugins changed: every host learns their hooks again. */
  announceAll(): void {
    for (let host = 0; host < this.outboxes.length; host++) this.announce(host);
  }

  /** Runs host `host`'s hookCall in the in-process plugins; the answer is dropped when the host was restarted meanwhile. */
  serve(host: number, call: HookCall): void {
    const outbox = this.outboxes[host] as Outbox;
    this.registry.serve(call.hook, call.args, (result) => {
      if (call.callId === 0 || this.outboxes[host] !== outbox) return;
      writeHookResult(outbox.writer, call.callId, result);
      outbox.commit();
    });
  }
}
