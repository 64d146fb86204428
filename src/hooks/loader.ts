/**
 * Loads the module plugins of `config.plugins` for one actor host: each module
 * default-exports a plugin object or a factory (called with the host's index
 * and a logger). A path starting with '.' or '/' is a file, resolved against
 * the working directory; any other string is imported as a package. Runs in
 * every actor host (each worker thread, or the main thread with `workers: 0`).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../log.js';
import type { NamedPlugin } from './chain.js';
import { implementedHooks, type Plugin, type PluginFactory } from './types.js';

export async function loadPlugins(specifiers: readonly string[], hostIndex: number, log: Logger): Promise<NamedPlugin[]> {
  const loaded: NamedPlugin[] = [];
  for (const specifier of specifiers) {
    const url = specifier.startsWith('.') || isAbsolute(specifier) ? pathToFileURL(resolve(specifier)).href : specifier;
    const module = (await import(url)) as { default?: unknown };
    const exported = module.default;
    const plugin = typeof exported === 'function'
      ? await (exported as PluginFactory)({ hostIndex, log: log.child({ plugin: specifier }) })
      : exported;
    if (typeof plugin !== 'object' || plugin === null || implementedHooks(plugin).length === 0) {
      throw new TypeError(`plugin ${specifier}: the default export must be a plugin object implementing at least one hook, or a factory returning one`);
    }
    loaded.push({ name: (plugin as Plugin).name ?? specifier, hooks: plugin as Record<string, unknown> });
  }
  return loaded;
}
