/**
 * The shapes the connect handler and the registration share: what they need
 * from their actor host (`SessionDirectory`), the `open` frame of a new
 * transport, and the outcome of a successful enhanced authentication. Types
 * only; the handler imports the registration, and both import this module,
 * never each other's callers. Runs wherever the actor host runs.
 */
import type { BrokerConfig } from '../../src/api/config.js';
import type { Logger } from '../../src/shared/log.js';
import type { OpenFrame } from '../../src/shared/channel/frames.js';
import type { HostHooks } from '../hooks/host-hooks.js';
import type { HostRuntime } from '../runtime/host-runtime.js';
import type { RegisteringSession } from '../session/session-context.js';
import type { RouterLink } from '../router-link.js';
import type { Authenticator } from './authenticator.js';
import type { ConnectAuth } from './auth-flow.js';

/** The connection a refusal or an AUTH goes to, before it has a session. */
export interface RawConnections {
  /** The host's frames to the main thread, which a refusal's 'client-refused' event takes. */
  readonly link: RouterLink;
  sendRaw(connId: number, bytes: Buffer): void;
  /** Closes `connId` (and forgets it, if it was waiting for its CONNACK). */
  endRaw(connId: number): void;
}

/** What the connect handler and the registration need from their actor host. */
export interface SessionDirectory extends RawConnections {
  readonly config: BrokerConfig;
  readonly authenticator: Authenticator | undefined;
  readonly hooks: HostHooks;
  readonly runtime: HostRuntime;
  readonly log: Logger;
  find(pool: string, clientId: string): RegisteringSession | undefined;
  create(pool: string, clientId: string): RegisteringSession;
  /** True while `connId` waits for its CONNACK and has not closed. */
  isConnecting(connId: number): boolean;
  /** `connId` got its CONNACK from session `sid`: its packets go there, those that waited first. */
  established(connId: number, sid: number): void;
  /** Keeps a CONNECT waiting for its authentication exchange: the packets of `connId` go to `auth` while it is active. */
  pendAuth(connId: number, auth: ConnectAuth): void;
  /** This host's index among the actor hosts (placement.ts). */
  readonly index: number;
  /**
   * The CONNECT of `open` continues on host `host`, which owns the session it
   * registers, with `continued` (connect-move.ts); this host keeps its later
   * packets until the main thread asks for them.
   */
  moveConnect(open: OpenFrame, host: number, continued: string): void;
  /**
   * In a cluster: makes this node the owner of session `clientId` of `pool`
   * (its state, handed over by the node that owned it, restored here first);
   * resolves with the claim's number, or 0 when the cluster cannot be
   * reached and the CONNECT is refused.
   */
  claimSession(connId: number, pool: string, clientId: string): Promise<number>;
}

export type { OpenFrame };

/** The outcome of a successful enhanced authentication, echoed in CONNACK [MQTT-4.12.0-5]. */
export interface Authenticated {
  method: string;
  data: Buffer | undefined;
}
