/**
 * The application message as the router and the sessions see it: what a
 * PUBLISH carries, independent of the protocol version of the sender or the
 * receiver. Plain data; crosses threads only in the binary form of message-codec.ts.
 */
export type QoS = 0 | 1 | 2;

/** MQTT 5.0 User Properties: name → value, or every value of a name given more than once. */
export type UserProperties = Record<string, string | string[]>;

/** MQTT 5.0 properties that travel with an application message. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface AppMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: MessageProperties;
  /** Absolute expiry time in ms since the epoch, from Message Expiry Interval. */
  expiresAt?: number;
  /**
   * With a store, a QoS 2 message of a client: the id of its publish, the
   * same each time a restart makes it routed again (workers/session/inbound-qos2.ts).
   */
  qos2Id?: string;
  /** Routed again after a restart: a session that got a copy the first time skips it. */
  resent?: true;
  /**
   * The node the message came from through the router bridge; absent for a
   * message of this node. Main thread only: never encoded into a frame.
   */
  origin?: string;
}
