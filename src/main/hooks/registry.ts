/**
 * The in-process plugins of the embedding application (`broker.addPlugin`):
 * the list, the names of the hooks they implement, and the serving of a
 * worker host's hookCall frame by running their chain (VerneMQ order: they
 * come after the module plugins the host already ran). Main thread; never
 * awaits: an asynchronous answer is posted back when it settles.
 */
import type { Logger } from '../../shared/log.js';
import { runAll, runAllTillOk, type ChainOutcome, type NamedPlugin } from '../../shared/hooks/chain.js';
import { HOOK_KINDS, implementedHooks, isHookName, type HookName, type Plugin } from '../../api/hooks.js';
import { fromWire, toWire } from '../../shared/hooks/wire.js';
import { isPromise } from '../../shared/async.js';

export class PluginRegistry {
  /** Live list: an inline actor host (`workers: 0`) calls these directly. */
  readonly plugins: NamedPlugin[] = [];

  constructor(private readonly log: Logger) {}

  add(plugin: Plugin): void {
    if (typeof plugin !== 'object' || plugin === null) throw new TypeError('addPlugin: expected a plugin object');
    const hooks = implementedHooks(plugin);
    if (hooks.length === 0) throw new TypeError('addPlugin: the plugin implements no hook');
    this.plugins.push({ name: plugin.name ?? `in-process-${this.plugins.length + 1}`, hooks: plugin as Record<string, unknown> });
  }

  /** Names of the hooks any in-process plugin implements. */
  hookNames(): HookName[] {
    const names = new Set<HookName>();
    for (const p of this.plugins) for (const hook of implementedHooks(p.hooks)) names.add(hook);
    return [...names];
  }

  /**
   * Runs the in-process chain of a hookCall. `reply` gets the JSON outcome of
   * an all_till_ok chain; an `all` hook is called without one.
   */
  serve(hook: string, argsJson: string, reply: (outcomeJson: string) => void): void {
    if (!isHookName(hook)) {
      reply(toWire({ kind: 'error', reason: `unknown hook ${hook}`, plugin: 'broker' } satisfies ChainOutcome));
      return;
    }
    const args = fromWire(argsJson) as unknown[];
    if (HOOK_KINDS[hook] === 'all') {
      runAll(this.plugins, hook, args, (plugin, err) => this.log.warn({ plugin, hook, err }, 'plugin hook failed'));
      return;
    }
    const outcome = runAllTillOk(this.plugins, hook, args);
    if (isPromise(outcome)) outcome.then((o) => reply(toWire(o)));
    else reply(toWire(outcome));
  }
}
