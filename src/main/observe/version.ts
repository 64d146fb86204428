/** The package's version, as `$SYS/broker/version` and the status page say it. Main thread. */
import { createRequire } from 'node:module';

export const BROKER_VERSION = (createRequire(import.meta.url)('../../../../package.json') as { version: string }).version;
