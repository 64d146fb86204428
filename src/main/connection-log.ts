/**
 * The connection log lines: `client connected`, `client refused` and
 * `client disconnected`, at info level, one per accepted, refused and closed
 * client connection, each with the client id and its session event's detail
 * (README "Watching the broker", Logs). Written with the broker's
 * main-thread logger, the application's when it passed one. Main thread.
 */
import type { SessionEvent, SessionEventName } from '../shared/channel/frames.js';
import type { Logger } from '../shared/log.js';

const MESSAGES: Record<SessionEventName, string> = {
  'client-connected': 'client connected',
  'client-refused': 'client refused',
  'client-disconnected': 'client disconnected',
};

export function logSessionEvent(log: Logger, event: SessionEvent): void {
  log.info({ clientId: event.clientId, ...event.detail }, MESSAGES[event.name]);
}
