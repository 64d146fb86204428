/**
 * Direct entry for the end-to-end load bench, for use without the Shoal CLI:
 *
 *   node dist/bench/load/main.js [same flags as `npm run bench --`]
 *
 * Runs in the orchestrator process and only calls runBench (bench/cli.ts).
 */
import { runBench } from '../cli.js';

process.exitCode = await runBench(process.argv.slice(2));
