/**
 * The plugin chains as an actor host runs them. First the module plugins
 * this host loaded, then the embedding application's in-process plugins:
 * called directly when the host is on the main thread (`workers: 0`), or over
 * hookCall / hookResult frames from a worker (an `all` hook is then sent
 * without waiting for an answer). Knows which hooks any plugin implements, so
 * a hook nobody implements costs one Set lookup, and a chain of synchronous
 * plugins stays synchronous. An asynchronous answer is bounded by
 * pluginTimeoutMs. Runs wherever the actor host runs.
 */
import { runAll, runAllTillOk, type ChainOutcome, type NamedPlugin } from '../../src/shared/hooks/chain.js';
import { implementedHooks, type HookName } from '../../src/api/hooks.js';
import { fromWire, toWire } from '../../src/shared/hooks/wire.js';
import type { Logger } from '../../src/shared/log.js';
import type { RouterLink } from '../router-link.js';
import { isPromise, withTimeout, type MaybePromise } from '../../src/shared/async.js';

export class HostHooks {
  private modules: readonly NamedPlugin[] = [];
  /** The chain run in this thread: module plugins, then (inline host) the in-process ones. */
  private local: readonly NamedPlugin[] = [];
  /** Hooks the main thread serves for a worker host (in-process plugins). */
  private remote = new Set<string>();
  private implemented = new Set<string>();
  private readonly pending = new Map<number, (outcome: ChainOutcome) => void>();
  private nextCallId = 1;

  /** `inline`: the registry's live list of in-process plugins when this host runs on the main thread. */
  constructor(
    private readonly link: RouterLink,
    private readonly inline: readonly NamedPlugin[] | undefined,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** The module plugins, once loaded. */
  setModules(modules: readonly NamedPlugin[]): void {
    this.modules = modules;
    this.rebuild([...this.remote]);
  }

  /** The in-process plugins now implement `hooks` (a 'plugins' frame). */
  setInProcess(hooks: readonly string[]): void {
    this.rebuild(hooks);
  }

  /** The hooks the module plugins implement. */
  moduleHooks(): string[] {
    return [...new Set(this.modules.flatMap((plugin) => implementedHooks(plugin.hooks)))];
  }

  has(hook: HookName): boolean {
    return this.implemented.has(hook);
  }

  /** Runs an all_till_ok chain: module plugins, then in-process ones when the local chain did not decide. */
  tillOk<M>(hook: HookName, args: unknown[]): MaybePromise<ChainOutcome<M>> {
    const local = runAllTillOk<M>(this.local, hook, args);
    if (isPromise(local))
      return this.bounded(
        hook,
        local.then((o) => this.orRemote(o, hook, args)),
        timedOut<M>(hook),
      );
    return this.orRemote(local, hook, args);
  }

  /** Runs an `all` chain; a promise when a plugin of this thread answered with one. */
  all(hook: HookName, args: unknown[]): MaybePromise<void> {
    const done = runAll(this.local, hook, args, (plugin, err) => this.log.warn({ plugin, hook, err }, 'plugin hook failed'));
    if (this.remote.has(hook)) this.link.hookCall(0, hook, toWire(args));
    return done === undefined ? undefined : this.bounded(hook, done, undefined);
  }

  /** Calls an `all` hook whose answer nobody waits for (no session packet depends on it). */
  notify(hook: HookName, args: unknown[]): void {
    if (this.implemented.has(hook)) void this.all(hook, args);
  }

  /** A hookResult frame. */
  settle(callId: number, result: string): void {
    const resolve = this.pending.get(callId);
    if (!resolve) return;
    this.pending.delete(callId);
    resolve(fromWire(result) as ChainOutcome);
  }

  private orRemote<M>(outcome: ChainOutcome<M>, hook: HookName, args: unknown[]): MaybePromise<ChainOutcome<M>> {
    if (outcome.kind === 'ok' || outcome.kind === 'error' || !this.remote.has(hook)) return outcome;
    const callId = this.nextCallId++;
    if (this.nextCallId > 0xffffffff) this.nextCallId = 1;
    const answer = new Promise<ChainOutcome<M>>((resolve) => this.pending.set(callId, resolve as (o: ChainOutcome) => void));
    this.link.hookCall(callId, hook, toWire(args));
    const combined = answer.then((r) => (r.kind === 'no_matching_hook' ? outcome : r));
    return this.bounded(hook, combined, timedOut<M>(hook), () => this.pending.delete(callId));
  }

  /** `promise`, or `fallback` once pluginTimeoutMs has passed. */
  private bounded<T>(hook: HookName, promise: Promise<T>, fallback: T, onTimeout?: () => void): Promise<T> {
    return withTimeout(promise, this.timeoutMs, () => {
      this.log.warn({ hook, timeoutMs: this.timeoutMs }, 'plugin hook timed out');
      onTimeout?.();
      return fallback;
    });
  }

  private rebuild(remoteHooks: readonly string[]): void {
    this.local = this.inline ? [...this.modules, ...this.inline] : this.modules;
    this.remote = this.inline ? new Set() : new Set(remoteHooks);
    this.implemented = new Set(this.remote);
    for (const plugin of this.local) for (const hook of implementedHooks(plugin.hooks)) this.implemented.add(hook);
  }
}

function timedOut<M>(hook: HookName): ChainOutcome<M> {
  return { kind: 'error', reason: new Error(`${hook} did not answer in time`), plugin: 'broker' };
}
