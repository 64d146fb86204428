/**
 * Loads the session runtime of `config.runtime` for one actor host: '' is the
 * default runtime (at once, no import); otherwise a module whose default
 * export is a runtime object or a factory (called with the host's index, a
 * logger and the entry's options), resolved like plugin modules. Callbacks
 * the module leaves out are the default runtime's. Runs in every actor host.
 */
import { importDefault } from '../hooks/loader.js';
import type { Logger } from '../../src/shared/log.js';
import { defaultRuntime } from './default-runtime.js';
import type { Runtime, RuntimeFactory, RuntimeSpec } from '../../src/api/runtime.js';

export function loadRuntime(spec: RuntimeSpec, hostIndex: number, log: Logger): Runtime | Promise<Runtime> {
  const specifier = typeof spec === 'string' ? spec : spec.module;
  if (specifier === '') return defaultRuntime;
  const options = typeof spec === 'string' ? {} : (spec.options ?? {});
  return importDefault(specifier).then(async (exported) => {
    const runtime =
      typeof exported === 'function'
        ? await (exported as RuntimeFactory)({ hostIndex, log: log.child({ runtime: specifier }), options })
        : exported;
    if (typeof runtime !== 'object' || runtime === null) {
      throw new TypeError(`runtime ${specifier}: the default export must be a runtime object or a factory returning one`);
    }
    return withDefaults(runtime as Partial<Runtime>);
  });
}

/** `custom`'s callbacks, called with `custom` as `this`, and the default runtime's for the others. */
function withDefaults(custom: Partial<Runtime>): Runtime {
  const runtime: Record<string, unknown> = { ...defaultRuntime };
  for (const name of Object.keys(defaultRuntime)) {
    const callback = (custom as Record<string, unknown>)[name];
    if (typeof callback === 'function') runtime[name] = callback.bind(custom);
  }
  return runtime as unknown as Runtime;
}
