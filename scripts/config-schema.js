// Writes docs/broker.schema.json, the JSON Schema of a configuration file,
// from the configuration schema (src/api/config-schema.ts). Run after
// `npm run build`: node scripts/config-schema.js (npm run config-schema).
// test/unit/config.test.ts fails while the file differs from the schema.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../dist/src/index.js';

writeFileSync(new URL('../docs/broker.schema.json', import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
