/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium (or
 * SHOAL_CHROMIUM), driven with playwright-core, which never downloads a
 * browser. With CI set, a Chromium that cannot start fails the tests;
 * elsewhere a missing Chromium skips them (`chromiumSkip`). Test process.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { IN_CI } from './ci.js';
import { withBound } from './clients.js';

const CHROMIUM = process.env['SHOAL_CHROMIUM'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];
/** Starting Chromium, loading a page: longer than one MQTT exchange. */
export const LAUNCH_MS = 30_000;

/** The `skip` option of a browser suite: a reason when Chromium is missing outside CI, else false. */
export const chromiumSkip: string | false =
  !IN_CI && !existsSync(CHROMIUM)
    ? `Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (Debian/Ubuntu) or set SHOAL_CHROMIUM; with CI set this test fails instead`
    : false;

export async function launchChromium(): Promise<Browser> {
  try {
    return await withBound(
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: LAUNCH_MS }),
      LAUNCH_MS + 5_000,
      'Chromium launch',
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `Chromium (${CHROMIUM}) could not start${IN_CI ? ' and CI is set, so this fails' : ''}; ` +
        `install it with \`apt-get install -y chromium\`: ${message}`,
      { cause: err },
    );
  }
}
