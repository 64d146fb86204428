// Writes what the configuration schema (src/api/config-schema.ts) documents:
// docs/broker.schema.json, the JSON Schema of a configuration file, and the
// configuration table of README.md (between its config-table markers). Run
// after `npm run build`: node scripts/config-schema.js (npm run config-schema).
// test/unit/config.test.ts fails while either differs from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { configJsonSchema, configTable } from '../dist/src/index.js';

const START = '<!-- config-table: written by npm run config-schema from src/api/config-schema.ts -->\n';
const END = '\n<!-- /config-table -->';

writeFileSync(new URL('../docs/broker.schema.json', import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END, from);
if (from < 0 || to < 0) throw new Error('README.md: the config-table markers are missing');
writeFileSync(readmeUrl, `${readme.slice(0, from + START.length)}${configTable()}${readme.slice(to)}`);
