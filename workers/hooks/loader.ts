/**
 * Loads the module plugins of `config.plugins` for one actor host: each module
 * default-exports a plugin object or a factory (called with the host's index,
 * a logger, the entry's options and the host's PluginBroker, plugin-broker.ts,
 * whose disconnectClient reaches any session). An entry is a specifier string or
 * `{ module, options }`. A path starting with '.' or '/' is a file, resolved
 * against the working directory; `shoal/passwd` and `shoal/acl` are the
 * bundled plugins (src/plugins/); any other string is imported as a package.
 * Runs in every actor host (each worker thread, or the main thread with
 * `workers: 0`).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../../src/shared/log.js';
import type { NamedPlugin } from '../../src/shared/hooks/chain.js';
import { implementedHooks, type Plugin, type PluginFactory, type PluginSpec } from '../../src/api/hooks.js';
import type { PluginBroker } from './plugin-broker.js';

/** The bundled plugins, by the specifier a configuration names them with. */
const BUNDLED: Readonly<Record<string, string>> = {
  'shoal/passwd': new URL('../../src/plugins/passwd.js', import.meta.url).href,
  'shoal/acl': new URL('../../src/plugins/acl.js', import.meta.url).href,
};

/** The default export of module `specifier` (a bundled name, a path starting with '.' or '/', or a package). */
export async function importDefault(specifier: string): Promise<unknown> {
  const url =
    BUNDLED[specifier] ?? (specifier.startsWith('.') || isAbsolute(specifier) ? pathToFileURL(resolve(specifier)).href : specifier);
  const module = (await import(url)) as { default?: unknown };
  return module.default;
}

export async function loadPlugins(
  entries: readonly PluginSpec[],
  hostIndex: number,
  log: Logger,
  broker: PluginBroker,
): Promise<NamedPlugin[]> {
  const loaded: NamedPlugin[] = [];
  for (const entry of entries) {
    const specifier = typeof entry === 'string' ? entry : entry.module;
    const options = typeof entry === 'string' ? {} : (entry.options ?? {});
    const exported = await importDefault(specifier);
    const plugin =
      typeof exported === 'function'
        ? await (exported as PluginFactory)({
            hostIndex,
            log: log.child({ plugin: specifier }),
            options,
            disconnectClient: broker.disconnectClient,
          })
        : exported;
    if (typeof plugin !== 'object' || plugin === null || implementedHooks(plugin).length === 0) {
      throw new TypeError(
        `plugin ${specifier}: the default export must be a plugin object implementing at least one hook, or a factory returning one`,
      );
    }
    loaded.push({ name: (plugin as Plugin).name ?? specifier, hooks: plugin as Record<string, unknown> });
  }
  return loaded;
}
