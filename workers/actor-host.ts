/**
 * The actor host: owns the session actors of one shard (by client id hash),
 * their index by client id and by connection, the CONNECTs waiting for an
 * authentication exchange or for their plugin hooks (with the packets that
 * arrive meanwhile; one that moves to the host owning its session until the
 * main thread takes it, connect-move.ts), the plugin chains (host-hooks.ts)
 * and the module plugins' requests to the broker (plugin-broker.ts),
 * the session runtime (host-runtime.ts), the data-plane link to the router, and the writes to
 * its session store, when it has one (session-store.ts: the records of the
 * persistent sessions whose state changed in an event-loop turn, written and
 * committed together once per turn, and once more when the host shuts down;
 * the ones it takes back when it starts), and in a cluster the CONNECTs
 * waiting for their session's cluster-wide claim, the sessions it hands over
 * to another node and the ones it takes from one. Until its module plugins, its runtime and
 * its stored sessions are loaded it keeps the batches it receives. It
 * does not care where it runs: a worker thread (worker-main.ts) or the main
 * thread (`workers: 0`).
 */
import { BatchReader } from '../src/shared/channel/batch-reader.js';
import type { BatchEndpoint } from '../src/shared/channel/endpoint.js';
import { Outbox } from '../src/shared/channel/outbox.js';
import type { BrokerConfig } from '../src/api/config.js';
import type { NamedPlugin } from '../src/shared/hooks/chain.js';
import type { Logger } from '../src/shared/log.js';
import { readToSession, type DeliveryTarget, type ToSession, type TransportClosed } from '../src/shared/channel/frames.js';
import type { AppMessage } from '../src/shared/message/app-message.js';
import type { ConnectAuth } from './connect/auth-flow.js';
import type { Authenticator } from './connect/authenticator.js';
import { handleConnect } from './connect/connect-handler.js';
import type { OpenFrame, SessionDirectory } from './connect/connect-types.js';
import type { Runtime } from '../src/api/runtime.js';
import { HostHooks } from './hooks/host-hooks.js';
import type { PluginBroker } from './hooks/plugin-broker.js';
import { HostRuntime } from './runtime/host-runtime.js';
import { hostAuthenticator } from './connect/plugin-auth.js';
import { RouterLink } from './router-link.js';
import { SessionActor, type SessionEnv } from './session/session-actor.js';
import type { SessionRecord, SessionStore } from './session/session-store.js';
import { isPromise, type MaybePromise } from '../src/shared/async.js';
import type mqttPacket from 'mqtt-packet';
import { ReasonCode } from '../src/shared/codec/reason-codes.js';
import {
  sessionWeight,
  type HostControl,
  type HostStats,
  type ServerDisconnect,
  type ServerRedirect,
  type SessionSummary,
  type TopSessionsBy,
} from '../src/shared/channel/host-control.js';
import { PublishAcks } from './publish-acks.js';
import { SessionSaver } from './session-saver.js';

/**
 * The snapshot of a host's sessions, beside HostControl on the host's control
 * object (the main thread's worker wrapper forwards HostControl only, so an
 * inline host's control object has it today).
 */
export interface SessionTransfer {
  /** Snapshots of the host's persistent sessions (a Session Expiry above 0), as a store keeps them. */
  sessions(): Promise<SessionRecord[]>;
}

/** The plugins of a host. */
export interface HostPlugins {
  /** The module plugins of `config.plugins`, loaded or loading. */
  modules: NamedPlugin[] | Promise<NamedPlugin[]>;
  /** The in-process plugins' live list, when the host runs on the main thread. */
  inProcess?: readonly NamedPlugin[];
  /** The session runtime of `config.runtime`, loaded or loading; the default runtime when absent. */
  runtime?: Runtime | Promise<Runtime>;
  /** Where the host saves its persistent sessions and finds them again when it starts; none when absent. */
  store?: SessionStore;
  /** What the module plugins were given to ask of the broker (their disconnectClient): attached to the host's link. */
  broker?: PluginBroker;
}

/** A connection whose CONNECT waits for its plugin hooks: its later packets, and its close. */
interface Connecting {
  held: Buffer[];
  closed: TransportClosed | undefined;
  /** Set once the CONNECT moves to the host that owns its session: its open frame there. */
  moved?: OpenFrame;
}

export class ActorHost implements SessionDirectory {
  private readonly sessions = new Map<number, SessionActor>();
  private readonly byClient = new Map<string, SessionActor>();
  private readonly byConn = new Map<number, SessionActor>();
  /** Connections whose CONNECT waits for its authentication exchange. */
  private readonly pendingAuth = new Map<number, ConnectAuth>();
  /** Connections between their CONNECT and their CONNACK. */
  private readonly connecting = new Map<number, Connecting>();
  /** CONNECTs waiting for the cluster to make this node their session's owner (claimSession), by connection. */
  private readonly claims = new Map<number, (claim: number) => void>();
  private readonly outbox: Outbox;
  readonly link: RouterLink;
  private readonly env: SessionEnv;
  readonly hooks: HostHooks;
  readonly runtime: HostRuntime;
  private readonly pluginBroker: PluginBroker | undefined;
  /** Batches received before the module plugins and the runtime were loaded. */
  private early: Buffer[] | undefined;
  private readonly loaded: Promise<void>;
  private nextSid = 1;
  /** The writes to the session store, when the host has one. */
  private readonly saver: SessionSaver | undefined;
  /** The tokens of the deliver frames of the batch in hand. */
  private delivered: number[] = [];
  private stopResolve: (() => void) | undefined;
  readonly stopped: Promise<void>;

  readonly authenticator: Authenticator;

  /**
   * `authenticator` decides enhanced authentication; without one, the plugins'
   * on_auth_m5 does, or the runtime's reauth when no plugin has it.
   */
  constructor(
    readonly index: number,
    readonly config: BrokerConfig,
    endpoint: BatchEndpoint,
    readonly log: Logger,
    authenticator: Authenticator | undefined = undefined,
    plugins: HostPlugins = { modules: [] },
  ) {
    this.outbox = new Outbox(endpoint, config);
    this.link = new RouterLink(this.outbox);
    this.hooks = new HostHooks(this.link, plugins.inProcess, config.pluginTimeoutMs, log);
    this.pluginBroker = plugins.broker;
    this.pluginBroker?.attach(this.link);
    this.runtime = new HostRuntime(config.pluginTimeoutMs, log);
    this.authenticator = authenticator ?? hostAuthenticator(this.hooks, this.runtime);
    this.env = {
      config,
      link: this.link,
      log,
      authenticator: this.authenticator,
      hooks: this.hooks,
      runtime: this.runtime,
      ended: (s) => this.forget(s),
      unbind: (connId) => {
        this.byConn.delete(connId);
      },
      changed: (s) => this.saver?.changed(s),
      messagesChanged: (s) => this.saver?.changed(s, true),
      afterCommit: (next) => (this.saver ? this.saver.afterCommit(next) : next(true)),
      forgetDelivered: (qos2Id) => this.saver?.forgetDelivered(qos2Id),
      acks: plugins.store ? new PublishAcks() : undefined,
    };
    this.saver = plugins.store ? new SessionSaver(plugins.store, log, (pool, clientId) => this.find(pool, clientId)) : undefined;
    this.stopped = new Promise((resolve) => {
      this.stopResolve = resolve;
    });
    this.loaded = this.load(plugins.modules, plugins.runtime, plugins.store?.load());
    endpoint.onBatch((batch) => {
      if (this.early) this.early.push(batch);
      else this.onBatch(batch);
    });
  }

  readonly control: HostControl & SessionTransfer = {
    stats: async () => this.stats(),
    topSessions: async (by, limit) => this.topSessions(by, limit),
    shutdown: async (redirect) => this.shutdown(redirect),
    disconnect: async (pool, clientId, request) => this.disconnect(pool, clientId, request),
    handOver: async (pool, clientId) => this.handOver(pool, clientId),
    sessionKeys: async () => [...this.sessions.values()].map(({ pool, clientId }) => ({ pool, clientId })),
    ready: () => this.loaded.then(() => this.hooks.moduleHooks()),
    sessions: async () => this.snapshot(),
    // Records that another node's host made with handOver, or a store's: this host's own format.
    restore: async (records) => {
      this.restore(records as readonly SessionRecord[]);
    },
  };

  private load(
    modules: NamedPlugin[] | Promise<NamedPlugin[]>,
    runtime: Runtime | Promise<Runtime> | undefined,
    stored: MaybePromise<readonly SessionRecord[]> | undefined,
  ): Promise<void> {
    if (Array.isArray(modules) && !isPromise(runtime) && !isPromise(stored)) {
      this.hooks.setModules(modules);
      if (runtime) this.runtime.set(runtime);
      if (stored) this.restore(stored);
      return Promise.resolve();
    }
    this.early = [];
    const loaded = Promise.all([modules, runtime, stored]).then(([loadedModules, loadedRuntime, loadedSessions]) => {
      this.hooks.setModules(loadedModules);
      if (loadedRuntime) this.runtime.set(loadedRuntime);
      if (loadedSessions) this.restore(loadedSessions);
      const early = this.early ?? [];
      this.early = undefined;
      for (const batch of early) this.onBatch(batch);
    });
    loaded.catch((err: unknown) =>
      this.log.error({ err }, 'loading the plugin modules, the runtime or the stored sessions failed; this host serves no client'),
    );
    return loaded;
  }

  private onBatch(batch: Buffer): void {
    const reader = new BatchReader(batch);
    while (!reader.done) this.dispatch(readToSession(reader));
    if (this.delivered.length > 0) this.reportDelivered();
    this.link.credit(1);
  }

  /**
   * The deliveries of acknowledged publishes in this batch are reported to
   * the main thread once what they changed is committed: with the commit
   * this turn scheduled, or now when they changed nothing a store keeps.
   */
  private reportDelivered(): void {
    const tokens = this.delivered;
    this.delivered = [];
    this.env.afterCommit((ok) => this.link.committed(tokens, ok));
  }

  private dispatch(msg: ToSession): void {
    switch (msg.kind) {
      case 'packet': {
        const session = this.byConn.get(msg.connId);
        if (session) return session.handlePacket(msg.connId, msg.packet);
        const auth = this.pendingAuth.get(msg.connId);
        if (auth?.active) return auth.onPacket(msg.packet);
        // The batch's bytes are not ours to keep.
        this.connecting.get(msg.connId)?.held.push(Buffer.from(msg.packet));
        return;
      }
      case 'deliver':
        this.deliver(msg.message, msg.targets);
        if (msg.token !== 0) this.delivered.push(msg.token);
        return;
      case 'released':
        this.env.acks?.released(msg.ackId, msg.ok);
        return;
      case 'open':
        this.connecting.set(msg.connId, { held: [], closed: undefined });
        try {
          handleConnect(this, msg);
        } catch (err) {
          this.log.error({ err, connId: msg.connId }, 'CONNECT handling failed');
          this.endRaw(msg.connId);
        }
        return;
      case 'releaseConnect':
        this.releaseConnect(msg.connId);
        return;
      case 'closed': {
        const auth = this.pendingAuth.get(msg.connId);
        if (auth?.active) {
          auth.cancel();
          this.pendingAuth.delete(msg.connId);
          this.connecting.delete(msg.connId);
          return;
        }
        // A registration waiting for a hook sees it and stops; an established session gets it after its waiting packets.
        // A CONNECT moving elsewhere is abandoned: the main thread saw the close before the move, and ignores it.
        const connecting = this.connecting.get(msg.connId);
        if (connecting?.moved) this.endMoved(msg.connId);
        else if (connecting) connecting.closed = msg.closed;
        else this.byConn.get(msg.connId)?.transportClosed(msg.connId, msg.closed);
        return;
      }
      case 'dropped': {
        this.byConn.get(msg.connId)?.transportDropped(msg.packet, msg.reason);
        return;
      }
      case 'plugins':
        this.hooks.setInProcess(msg.hooks);
        return;
      case 'hookResult':
        this.hooks.settle(msg.callId, msg.result);
        return;
      case 'sessionClaimed':
        this.claims.get(msg.connId)?.(msg.claim);
        this.claims.delete(msg.connId);
        return;
      case 'disconnectResult':
        this.pluginBroker?.answered(msg.requestId, msg.connected);
        return;
    }
  }

  /**
   * A routed message for sessions of this host. A QoS 2 publish routed with
   * an id marks the persistent sessions that get a copy; routed again after a
   * restart, it skips the sessions marked then.
   */
  private deliver(message: AppMessage, targets: readonly DeliveryTarget[]): void {
    const { qos2Id } = message;
    // The sessions' identical QoS 0 PUBLISHes leave as one frame per encoding (RouterLink).
    this.link.beginShared();
    try {
      for (const target of targets) {
        const session = this.sessions.get(target.sid);
        if (session === undefined) continue;
        if (qos2Id !== undefined && this.saver && target.qos > 0 && !target.stored) {
          if (message.resent && this.saver.delivered(qos2Id, session)) continue;
          this.saver.markDelivered(qos2Id, session);
        }
        session.deliver(message, target);
      }
    } finally {
      this.link.endShared();
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

  isConnecting(connId: number): boolean {
    const connecting = this.connecting.get(connId);
    return connecting !== undefined && connecting.closed === undefined;
  }

  established(connId: number, sid: number): void {
    const session = this.sessions.get(sid)!;
    this.byConn.set(connId, session);
    this.pendingAuth.delete(connId);
    const connecting = this.connecting.get(connId);
    this.connecting.delete(connId);
    if (!connecting) return;
    for (const packet of connecting.held) session.handlePacket(connId, packet);
    if (connecting.closed !== undefined) session.transportClosed(connId, connecting.closed);
  }

  sendRaw(connId: number, bytes: Buffer): void {
    this.link.send(connId, bytes);
  }

  endRaw(connId: number): void {
    this.connecting.delete(connId);
    this.pendingAuth.delete(connId);
    this.link.end(connId);
  }

  pendAuth(connId: number, auth: ConnectAuth): void {
    this.pendingAuth.set(connId, auth);
  }

  moveConnect(open: OpenFrame, host: number, continued: string): void {
    const connecting = this.connecting.get(open.connId);
    if (!connecting) return;
    // The batch's bytes are not ours to keep.
    connecting.moved = { ...open, packet: Buffer.from(open.packet), continued };
    this.link.moveConnect(open.connId, host);
  }

  claimSession(connId: number, pool: string, clientId: string): Promise<number> {
    return new Promise((settle) => {
      this.claims.set(connId, settle);
      this.link.claimSession(connId, pool, clientId);
    });
  }

  /**
   * The session `clientId` of `pool` continues on another node: its
   * connection gets DISCONNECT 0x8E and closes (the will follows, as on a
   * takeover here); answers its record, as it would be offline from now, and
   * ends it here without its will (one waiting for its delay moves with the
   * record). Undefined when this host has no such session.
   */
  private handOver(pool: string, clientId: string): SessionRecord | undefined {
    const session = this.find(pool, clientId);
    if (!session) return undefined;
    if (session.connected) session.takenOver();
    const record = session.toRecord();
    session.moveAway();
    return record;
  }

  /** The main thread takes the moving CONNECT of `connId` for its new host, with the packets held here meanwhile. */
  private releaseConnect(connId: number): void {
    const connecting = this.connecting.get(connId);
    this.endMoved(connId);
    if (connecting?.moved) this.link.connectReleased(connecting.moved, connecting.held);
  }

  /** This host is done with the moving CONNECT of `connId`. */
  private endMoved(connId: number): void {
    this.connecting.delete(connId);
    this.pendingAuth.delete(connId);
  }

  /** Sessions taken back from a store (or another host's snapshot), offline; one of the same pool and client id here ends first. */
  private restore(records: readonly SessionRecord[]): void {
    for (const record of records) {
      this.find(record.pool, record.clientId)?.end();
      const session = this.create(record.pool, record.clientId);
      try {
        session.restore(record);
      } catch (err) {
        // A record that is not well formed costs that session (ended, its record removed), never the host.
        this.log.warn({ err, clientId: record.clientId, pool: record.pool }, 'a stored session cannot be restored; ending it');
        session.end();
        continue;
      }
      this.saver?.taken(session);
    }
  }

  /** The records of the persistent sessions, as the store would keep them. */
  private snapshot(): SessionRecord[] {
    const records: SessionRecord[] = [];
    for (const session of this.sessions.values()) if (session.sessionExpiry > 0) records.push(session.toRecord());
    return records;
  }

  /** A session ended: forgotten here, and in a cluster its ownership released unless it moved to another node. */
  private forget(session: SessionActor): void {
    this.sessions.delete(session.sid);
    const key = `${session.pool}\0${session.clientId}`;
    if (this.byClient.get(key) === session) this.byClient.delete(key);
    if (session.clusterClaim > 0 && !session.movedAway) this.link.sessionReleased(session.pool, session.clientId, session.clusterClaim);
  }

  stats(): HostStats {
    const drops = { queueFull: 0, packetTooLarge: 0, rateLimited: 0, expired: 0 };
    let connected = 0,
      queued = 0,
      queuedBytes = 0,
      inflight = 0;
    for (const s of this.sessions.values()) {
      if (s.connected) connected++;
      queued += s.queued;
      queuedBytes += s.queuedBytes;
      inflight += s.inflight;
      drops.queueFull += s.drops.queueFull;
      drops.packetTooLarge += s.drops.packetTooLarge;
      drops.rateLimited += s.drops.rateLimited;
      drops.expired += s.drops.expired;
    }
    const batches = this.outbox.batchStats();
    return { host: this.index, sessions: this.sessions.size, connected, queued, queuedBytes, inflight, drops, batches };
  }

  private topSessions(by: TopSessionsBy, limit: number): SessionSummary[] {
    const weight = sessionWeight(by);
    // The `limit` heaviest so far, heaviest first: one pass, no sort of every session.
    const top: SessionActor[] = [];
    for (const s of this.sessions.values()) {
      const w = weight(s);
      if (w === 0 || limit === 0 || (top.length === limit && w <= weight(top[limit - 1]!))) continue;
      if (top.length < limit) top.push(s);
      else top[limit - 1] = s;
      for (let i = top.length - 1; i > 0 && weight(top[i - 1]!) < w; i--) [top[i - 1], top[i]] = [top[i]!, top[i - 1]!];
    }
    return top.map((s) => ({
      clientId: s.clientId,
      pool: s.pool,
      host: this.index,
      connected: s.connected,
      queued: s.queued,
      inflight: s.inflight,
      packetsIn: s.packetsIn,
      packetsOut: s.packetsOut,
    }));
  }

  private disconnect(pool: string, clientId: string, request: ServerDisconnect): boolean {
    const session = this.find(pool, clientId);
    if (!session?.connected) return false;
    this.log.info({ clientId, pool, reasonCode: request.reasonCode }, 'disconnecting a client on request');
    session.closeTransport(request.reasonCode, request.reasonString, request.serverReference);
    return true;
  }

  private shutdown(redirect: ServerRedirect | undefined): MaybePromise<void> {
    const disconnect: mqttPacket.IDisconnectPacket = { cmd: 'disconnect', reasonCode: ReasonCode.ServerShuttingDown };
    if (redirect) {
      disconnect.reasonCode = redirect.permanent ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
      disconnect.properties = { serverReference: redirect.serverReference };
    }
    for (const session of this.byConn.values()) session.shutdownTransport(disconnect);
    for (const connId of this.connecting.keys()) this.link.end(connId);
    this.connecting.clear();
    for (const auth of this.pendingAuth.values()) auth.cancel();
    this.pendingAuth.clear();
    this.pluginBroker?.close();
    this.outbox.close();
    const saved = this.saver?.close(this.sessions.values());
    // Stop once the store is closed (never rejects), after this turn, so the control reply to shutdown() leaves first.
    const stop = (): void => {
      setImmediate(() => this.stopResolve?.());
    };
    if (isPromise(saved)) void saved.then(stop);
    else stop();
    return saved;
  }
}
