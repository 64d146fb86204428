/**
 * How a connection reached the broker: the transport names and the
 * connection facts the main thread hands a session with its CONNECT. Plain
 * data; used on every thread.
 */

/** Every transport a listener serves, in one list; `TransportName` is its union. */
export const TRANSPORT_NAMES = ['tcp', 'tls', 'ws', 'wss'] as const;

export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** The transports that carry MQTT over WebSocket. */
export type WebSocketTransportName = Extract<TransportName, 'ws' | 'wss'>;

export interface TransportInfo {
  type: TransportName;
  remoteAddress: string;
  remotePort: number;
  /** WebSocket: the Origin header of the upgrade request, if any. */
  origin?: string;
  /** WebSocket: the User-Agent header of the upgrade request, if any. */
  userAgent?: string;
}
