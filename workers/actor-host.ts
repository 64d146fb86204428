/**
 * The actor host: owns the session actors of one shard (by client id hash),
 * their index by client id and by connection, the CONNECTs waiting for an
 * authentication exchange, and the data-plane link to the router. It does not
 * care where it runs: a worker thread (worker-main.ts) or the main thread
 * (`workers: 0`).
 */
import { BatchReader } from '../src/channel/batch-reader.js';
import type { BatchEndpoint } from '../src/channel/endpoint.js';
import { Outbox } from '../src/channel/outbox.js';
import type { BrokerConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { readToSession, type ToSession } from '../src/messages.js';
import type { Authenticator, ConnectAuth } from './auth-flow.js';
import { handleConnect, type SessionDirectory } from './connect-handler.js';
import { RouterLink } from './router-link.js';
import { SessionActor, type SessionEnv } from './session-actor.js';
import { generatePacket } from './packet-io.js';
import { ReasonCode } from '../src/codec/reason-codes.js';

export interface HostStats {
  host: number;
  sessions: number;
  connected: number;
  queued: number;
  inflight: number;
  drops: { queueFull: number; packetTooLarge: number; rateLimited: number; expired: number };
}

/** The control-plane surface of a host (served over comlink for worker hosts). */
export interface HostControl {
  stats(): Promise<HostStats>;
  /** Tells every connected 5.0 client that the server shuts down, closes every transport, and stops. */
  shutdown(): Promise<void>;
}

export class ActorHost implements SessionDirectory {
  private readonly sessions = new Map<number, SessionActor>();
  private readonly byClient = new Map<string, SessionActor>();
  private readonly byConn = new Map<number, SessionActor>();
  /** Connections whose CONNECT waits for its authentication exchange. */
  private readonly pendingAuth = new Map<number, ConnectAuth>();
  private readonly outbox: Outbox;
  private readonly link: RouterLink;
  private readonly env: SessionEnv;
  private nextSid = 1;
  private stopResolve: (() => void) | undefined;
  readonly stopped: Promise<void>;

  /** `authenticator` decides enhanced authentication; without one every Authentication Method is refused. */
  constructor(
    readonly index: number,
    readonly config: BrokerConfig,
    endpoint: BatchEndpoint,
    private readonly log: Logger,
    readonly authenticator: Authenticator | undefined = undefined,
  ) {
    this.outbox = new Outbox(endpoint, config);
    this.link = new RouterLink(this.outbox);
    this.env = {
      config,
      link: this.link,
      log,
      authenticator,
      ended: (s) => this.forget(s),
      unbind: (connId) => { this.byConn.delete(connId); },
    };
    this.stopped = new Promise((resolve) => { this.stopResolve = resolve; });
    endpoint.onBatch((batch) => this.onBatch(batch));
  }

  readonly control: HostControl = {
    stats: async () => this.stats(),
    shutdown: async () => this.shutdown(),
  };

  private onBatch(batch: Buffer): void {
    const reader = new BatchReader(batch);
    while (!reader.done) this.dispatch(readToSession(reader));
    this.link.credit(1);
  }

  private dispatch(msg: ToSession): void {
    switch (msg.kind) {
      case 'packet': {
        const session = this.byConn.get(msg.connId);
        if (session) return session.handlePacket(msg.connId, msg.packet);
        const auth = this.pendingAuth.get(msg.connId);
        if (auth && !auth.onPacket(msg.packet)) this.pendingAuth.delete(msg.connId);
        return;
      }
      case 'deliver':
        for (const target of msg.targets) this.sessions.get(target.sid)?.deliver(msg.message, target);
        return;
      case 'open':
        try {
          handleConnect(this, msg);
        } catch (err) {
          this.log.error({ err, connId: msg.connId }, 'CONNECT handling failed');
          this.endRaw(msg.connId);
        }
        return;
      case 'closed':
        this.pendingAuth.delete(msg.connId);
        this.byConn.get(msg.connId)?.transportClosed(msg.connId, msg.reason);
        return;
    }
  }

  find(pool: string, clientId: string): SessionActor | undefined {
    return this.byClient.get(`${pool}\0${clientId}`);
  }

  create(pool: string, clientId: string): SessionActor {
    const session = new SessionActor(this.env, this.nextSid++, pool, clientId);
    this.sessions.set(session.sid, session);
    this.byClient.set(`${pool}\0${clientId}`, session);
    return session;
  }

  bind(connId: number, session: SessionActor): void {
    this.byConn.set(connId, session);
  }

  sendRaw(connId: number, bytes: Buffer): void {
    this.link.send(connId, bytes);
  }

  endRaw(connId: number): void {
    this.link.end(connId);
  }

  pendAuth(connId: number, auth: ConnectAuth): void {
    this.pendingAuth.set(connId, auth);
  }

  private forget(session: SessionActor): void {
    this.sessions.delete(session.sid);
    const key = `${session.pool}\0${session.clientId}`;
    if (this.byClient.get(key) === session) this.byClient.delete(key);
  }

  stats(): HostStats {
    const drops = { queueFull: 0, packetTooLarge: 0, rateLimited: 0, expired: 0 };
    let connected = 0, queued = 0, inflight = 0;
    for (const s of this.sessions.values()) {
      if (s.connected) connected++;
      queued += s.flow.queued;
      inflight += s.flow.inflight.size;
      drops.queueFull += s.drops.queueFull;
      drops.packetTooLarge += s.drops.packetTooLarge;
      drops.rateLimited += s.drops.rateLimited;
      drops.expired += s.drops.expired;
    }
    return { host: this.index, sessions: this.sessions.size, connected, queued, inflight, drops };
  }

  private shutdown(): void {
    for (const session of this.byConn.values()) {
      if (session.protocolVersion === 5) {
        this.link.send(session.connId, generatePacket({ cmd: 'disconnect', reasonCode: ReasonCode.ServerShuttingDown }, 5));
      }
      this.link.end(session.connId);
    }
    for (const connId of this.pendingAuth.keys()) this.link.end(connId);
    this.pendingAuth.clear();
    this.outbox.close();
    // Stop after this turn, so the control reply to shutdown() leaves first.
    setImmediate(() => this.stopResolve?.());
  }
}
