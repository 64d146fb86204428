/**
 * The interfaces of MQTT 5.0 enhanced authentication (spec 4.12): the
 * `Authenticator` that decides, one exchange with its steps, and the
 * authentication state a connection that named a method keeps. Types only;
 * the exchanges themselves are in auth-flow.ts. Runs wherever the actor host
 * runs.
 */

/** The outcome of one step of an exchange. */
export type AuthStep =
  | { outcome: 'continue'; data?: Buffer }
  | { outcome: 'success'; data?: Buffer }
  /** Refused: CONNACK (at CONNECT) or DISCONNECT (re-authentication) with `reasonCode`, default 0x87 Not authorized. */
  | { outcome: 'failure'; reasonCode?: number; reasonString?: string; serverReference?: string };

/** One authentication exchange; it may keep its state between steps. */
export interface AuthExchange {
  /** Takes the client's Authentication Data (from CONNECT or AUTH) and decides, now or later. */
  step(data: Buffer | undefined): AuthStep | Promise<AuthStep>;
}

export interface AuthRequest {
  method: string;
  clientId: string;
  username: string | undefined;
  /** True for a re-authentication (AUTH 0x19) on a connected session. */
  reauthentication: boolean;
  /** The session's pool. */
  pool: string;
  /** The runtime's user context of the session; undefined at CONNECT. */
  userContext: unknown;
}

export interface Authenticator {
  /** Starts an exchange for `request.method`; undefined when the method is not supported. */
  start(request: AuthRequest): AuthExchange | undefined;
}

/** The authentication state of one accepted connection that used an Authentication Method. */
export interface ConnectionAuth {
  method: string;
  username: string | undefined;
  /** The re-authentication in progress, if any. */
  exchange: AuthExchange | undefined;
  /** True while a step of the re-authentication waits for the authenticator's answer. */
  deciding?: boolean;
}
