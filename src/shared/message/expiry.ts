/**
 * Message Expiry Interval (MQTT 5.0, 3.3.2.3.3) as the broker keeps it: an
 * absolute deadline in ms since the epoch on the application message, so a
 * message keeps expiring while queued, retained or stored, and the interval
 * a receiver gets is what is left of it [MQTT-3.3.2-6]. Used on every thread.
 */

/** The deadline of a message whose expiry interval starts `delaySeconds` after `now` (a will's delay). */
export function expiryDeadline(intervalSeconds: number, now: number = Date.now(), delaySeconds = 0): number {
  return now + (delaySeconds + intervalSeconds) * 1000;
}

/** The whole seconds left until `expiresAt`, never negative: the interval sent with the message. */
export function remainingExpirySeconds(expiresAt: number, now: number = Date.now()): number {
  return Math.max(0, Math.ceil((expiresAt - now) / 1000));
}
