/**
 * The session runtime as an actor host runs it: the loaded runtime (the
 * default one until `config.runtime` is loaded), whether its `is_allowed` and
 * `is_valid_message` are its own (with the default runtime they are never
 * called: always true) and its `vhost_pool` (usernames then carry a vhost), the session options of a transport, and the expiry
 * a session gets when its transport goes away. Every call of a runtime
 * callback goes through this class: a callback that throws, whose promise
 * rejects, or whose promise does not settle within pluginTimeoutMs is logged
 * and gets the safe answer (a refusal, or no change); an answer given at once
 * stays synchronous. Runs wherever the actor host runs.
 */
import type { BrokerConfig } from '../../src/api/config.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import type { Logger } from '../../src/shared/log.js';
import type { TransportInfo } from '../../src/shared/channel/frames.js';
import { defaultRuntime } from './default-runtime.js';
import type { PoolSource } from './pools.js';
import type {
  Action,
  ConnectAnswer,
  ConnectPacket,
  ReauthAnswer,
  ReauthRequest,
  Runtime,
  SessionOptions,
  UserContext,
} from '../../src/api/runtime.js';
import { isPromise, type MaybePromise, withTimeout } from '../../src/shared/async.js';

const REAUTH_FAILED: ReauthAnswer = {
  outcome: 'failure',
  reasonCode: ReasonCode.UnspecifiedError,
  reasonString: 'the session runtime failed',
};

export class HostRuntime implements PoolSource {
  private runtime: Runtime = defaultRuntime;
  /** The runtime has its own is_allowed. */
  checksAccess = false;
  /** The runtime has its own is_valid_message. */
  checksMessages = false;
  /** The runtime has its own reauth. */
  reauthenticates = false;
  /** The runtime has its own vhost_pool: usernames carry a vhost (pools.ts). */
  choosesVhosts = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  set(runtime: Runtime): void {
    this.runtime = runtime;
    this.checksAccess = runtime.is_allowed !== defaultRuntime.is_allowed;
    this.checksMessages = runtime.is_valid_message !== defaultRuntime.is_valid_message;
    this.reauthenticates = runtime.reauth !== defaultRuntime.reauth;
    this.choosesVhosts = runtime.vhost_pool !== defaultRuntime.vhost_pool;
  }

  /** vhost_pool; a failure refuses the client (undefined). */
  vhostPool(vhost: string): string | undefined {
    return this.now('vhost_pool', undefined, () => this.runtime.vhost_pool(vhost));
  }

  /** pool_default; a failure refuses the client (undefined). */
  poolDefault(): string | undefined {
    return this.now('pool_default', undefined, () => this.runtime.pool_default());
  }

  /** new_user_context; a failure gives the default runtime's context. */
  newUserContext(pool: string, clientId: string, opts: SessionOptions): UserContext {
    try {
      return this.runtime.new_user_context(pool, clientId, opts);
    } catch (err) {
      this.failed('new_user_context', err);
      return defaultRuntime.new_user_context(pool, clientId, opts);
    }
  }

  /** connect; a failure or an answer that is not one refuses with 0x80 Unspecified error (3.1.1: server unavailable), the context kept. */
  connect(packet: ConnectPacket, sessionPresent: boolean, opts: SessionOptions, userContext: UserContext): MaybePromise<ConnectAnswer> {
    const refused: ConnectAnswer = { reasonCode: ReasonCode.UnspecifiedError, reasonString: 'the session runtime failed', userContext };
    const checked = (answer: ConnectAnswer): ConnectAnswer => {
      if (typeof answer === 'object' && answer !== null && typeof answer.reasonCode === 'number') return answer;
      this.log.error({ callback: 'connect', answer }, 'session runtime callback answered no { reasonCode, userContext }');
      return refused;
    };
    const answer = this.call('connect', refused, () => this.runtime.connect(packet, sessionPresent, opts, userContext));
    return isPromise(answer) ? answer.then(checked) : checked(answer);
  }

  /** reauth; a failure fails the step with 0x80. */
  reauth(request: ReauthRequest, userContext: UserContext): MaybePromise<ReauthAnswer> {
    return this.call('reauth', REAUTH_FAILED, () => this.runtime.reauth(request, userContext));
  }

  /** is_allowed, or true at once when the runtime does not check access; a failure refuses. */
  allowed(action: Action, topic: string, packet: object, userContext: UserContext): MaybePromise<boolean> {
    if (!this.checksAccess) return true;
    return this.call('is_allowed', false, () => this.runtime.is_allowed(action, topic, packet, userContext));
  }

  /** is_valid_message; a failure makes the packet invalid. */
  validMessage(packet: object, opts: SessionOptions, userContext: UserContext): MaybePromise<boolean> {
    return this.call('is_valid_message', false, () => this.runtime.is_valid_message(packet, opts, userContext));
  }

  /** control_message; a failure keeps `userContext`. */
  controlMessage(rest: string, packet: object, userContext: UserContext): MaybePromise<UserContext> {
    return this.call('control_message', userContext, () => this.runtime.control_message(rest, packet, userContext));
  }

  /**
   * Seconds a session stays after its transport went away: the negotiated
   * expiry, shortened (never lengthened) for an anonymous WebSocket session
   * to wsAnonymousSessionExpiry, or wsCrawlerSessionExpiry for a crawler. A
   * predicate that fails answers false.
   */
  expiryAfterDisconnect(config: BrokerConfig, negotiated: number, userContext: UserContext): number {
    const { runtime } = this;
    if (negotiated === 0) return negotiated;
    if (!this.now('is_websocket_origin', false, () => runtime.is_websocket_origin(userContext))) return negotiated;
    if (!this.now('is_anonymous_user', false, () => runtime.is_anonymous_user(userContext))) return negotiated;
    const crawler = this.now('is_crawler', false, () => runtime.is_crawler(userContext));
    return Math.min(negotiated, crawler ? config.wsCrawlerSessionExpiry : config.wsAnonymousSessionExpiry);
  }

  private failed(callback: string, err: unknown): void {
    this.log.error({ err, callback }, 'session runtime callback failed');
  }

  /** A synchronous callback's answer, or `fallback` when it throws. */
  private now<T>(callback: string, fallback: T, call: () => T): T {
    try {
      return call();
    } catch (err) {
      this.failed(callback, err);
      return fallback;
    }
  }

  /** A callback's answer (synchronous when it answered at once), or `fallback` when it throws, rejects or answers too late. */
  private call<T>(callback: string, fallback: T, call: () => MaybePromise<T>): MaybePromise<T> {
    let answer: MaybePromise<T>;
    try {
      answer = call();
    } catch (err) {
      this.failed(callback, err);
      return fallback;
    }
    if (!isPromise(answer)) return answer;
    return withTimeout(
      answer,
      this.timeoutMs,
      () => {
        this.log.warn({ callback, timeoutMs: this.timeoutMs }, 'session runtime callback timed out');
        return fallback;
      },
      (err) => {
        this.failed(callback, err);
        return fallback;
      },
    );
  }
}

/** The session options of a connection. */
export function sessionOptions(transport: TransportInfo): SessionOptions {
  const opts: SessionOptions = { transport: transport.type, peer: { address: transport.remoteAddress, port: transport.remotePort } };
  if (transport.origin !== undefined) opts.origin = transport.origin;
  if (transport.userAgent !== undefined) opts.userAgent = transport.userAgent;
  return opts;
}
