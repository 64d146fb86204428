/**
 * Names MQTT conformance statements in test titles: the 3.1.1 id for
 * protocol level 4, the 5.0 id (same unless given) for level 5. Pure
 * functions for the test process.
 */
import type { Version } from './clients.js';

export function rule(version: Version, v311: string, v5: string = v311): string {
  return `[MQTT-${version === 5 ? v5 : v311}]`;
}

export function label(version: Version): string {
  return version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1';
}
