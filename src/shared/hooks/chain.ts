/**
 * VerneMQ's plugin-chain semantics. `all_till_ok`: plugins are called in
 * registration order; the first `ok`, `{ ok: modifiers }` or `{ error }`
 * ends the chain, `next` passes on, anything else is an error; when every
 * plugin passes (or none has the hook) the chain is exhausted. `all`: every
 * plugin is called, results are ignored, a throwing plugin is logged and the
 * others still run. Synchronous plugins are called without an await, so a
 * chain of them stays synchronous. Runs wherever the hooks run (an actor host).
 */
import { isPromise } from '../async.js';

export type HookReturn<M = unknown> = 'ok' | 'next' | { ok: M } | { error: unknown };

export type ChainOutcome<M = unknown> =
  | { kind: 'ok'; modifiers?: M; plugin: string }
  | { kind: 'error'; reason: unknown; plugin: string }
  | { kind: 'exhausted' }
  | { kind: 'no_matching_hook' };

export interface NamedPlugin {
  name: string;
  hooks: Record<string, unknown>;
}

type HookFn = (...args: unknown[]) => unknown;

/** Interprets one plugin's answer; undefined means `next`. */
function judge<M>(value: unknown, plugin: string): ChainOutcome<M> | undefined {
  if (value === 'next') return undefined;
  if (value === 'ok') return { kind: 'ok', plugin };
  if (typeof value === 'object' && value !== null) {
    if ('ok' in value) return { kind: 'ok', modifiers: (value as { ok: M }).ok, plugin };
    if ('error' in value) return { kind: 'error', reason: (value as { error: unknown }).error, plugin };
  }
  return { kind: 'error', reason: value, plugin };
}

export function runAllTillOk<M>(
  plugins: readonly NamedPlugin[],
  hook: string,
  args: unknown[],
): ChainOutcome<M> | Promise<ChainOutcome<M>> {
  let found = false;
  const step = (from: number): ChainOutcome<M> | Promise<ChainOutcome<M>> => {
    for (let i = from; i < plugins.length; i++) {
      const plugin = plugins[i] as NamedPlugin;
      const fn = plugin.hooks[hook];
      if (typeof fn !== 'function') continue;
      found = true;
      let value: unknown;
      try {
        value = (fn as HookFn).apply(plugin.hooks, args);
      } catch (err) {
        return { kind: 'error', reason: err, plugin: plugin.name };
      }
      if (isPromise(value)) {
        return value.then(
          (v) => judge<M>(v, plugin.name) ?? step(i + 1),
          (err: unknown) => ({ kind: 'error', reason: err, plugin: plugin.name }),
        );
      }
      const outcome = judge<M>(value, plugin.name);
      if (outcome) return outcome;
    }
    return found ? { kind: 'exhausted' } : { kind: 'no_matching_hook' };
  };
  return step(0);
}

export function runAll(
  plugins: readonly NamedPlugin[],
  hook: string,
  args: unknown[],
  onError: (plugin: string, err: unknown) => void,
): void | Promise<void> {
  let pending: Promise<unknown>[] | undefined;
  for (const plugin of plugins) {
    const fn = plugin.hooks[hook];
    if (typeof fn !== 'function') continue;
    try {
      const value = (fn as HookFn).apply(plugin.hooks, args);
      if (isPromise(value)) (pending ??= []).push(value.catch((err: unknown) => onError(plugin.name, err)));
    } catch (err) {
      onError(plugin.name, err);
    }
  }
  if (pending) return Promise.all(pending).then(() => undefined);
  return undefined;
}
