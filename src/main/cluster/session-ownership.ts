/**
 * Who owns each session in the cluster. A key-value bucket
 * (`{prefix}-sessions`, one entry per pool and client id: the owning node,
 * the one before it, the pool and client id) is written by compare-and-set
 * on the entry's revision, so of two nodes claiming one session only one
 * wins, and the revisions order the owners. A node registering a CONNECT
 * claims the session; when another node owned it, that node is asked, on
 * its handover subject, to end the client's connection there (0x8E) and
 * hand the session's record over (subscriptions, queued and unacknowledged
 * messages, a will waiting for its delay), which is restored here before
 * the CONNECT goes on, so the client gets `session present`. An owner that
 * does not answer within `handoverTimeoutMs` (killed, or cut off from NATS)
 * loses the session: it starts here without its state. The node that owned
 * a session taken without a handover request (it was cut off from NATS
 * meanwhile) learns it from the bucket and ends its copy once that timeout
 * has passed, so two nodes never serve one session for longer than the
 * split lasts plus that timeout. When a session ends on the node that owns
 * it (a clean session's disconnect, an expiry), its entry is deleted, by
 * compare-and-set on the revision its last claim wrote, and only when no
 * later claim of this node took it meanwhile; the bucket's delete markers
 * are purged every PURGE_INTERVAL_MS, so the bucket holds the sessions
 * that exist, not every client id that ever connected. A node that starts
 * with sessions in its store checks each against the bucket: one another
 * node took while it was down is ended here, one without an entry is
 * claimed again. Main thread.
 */
import type { Bucket, KV, KvEntry } from '@nats-io/kv';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { ClusterConfig } from '../../api/config.js';
import type { MovedSession } from '../../shared/channel/host-control.js';
import type { Logger } from '../../shared/log.js';
import { BucketWatch } from './bucket-watch.js';
import type { NatsLink } from './nats-link.js';
import { bucketKey, type ClusterSubjects } from './subjects.js';
import { packData, unpackData } from './wire.js';

/** What the hosts do for the ownership of their sessions. */
export interface SessionHosts {
  handOver(pool: string, clientId: string): Promise<MovedSession | undefined>;
  sessionKeys(): Promise<Array<{ pool: string; clientId: string }>>;
  restore(record: MovedSession): Promise<void>;
}

/** What the ownership counted since the node joined. */
export interface OwnershipStats {
  /** Sessions this node became the owner of. */
  claims: number;
  /** Sessions another node handed over to this one with their state. */
  takenOver: number;
  /** Sessions taken from a node that did not answer: they started here without their state. */
  takenWithoutState: number;
  /** Sessions this node handed over to another. */
  handedOver: number;
  /** Sessions another node took without asking this one (a split), ended here. */
  evicted: number;
}

interface OwnerEntry {
  node: string;
  previous: string | undefined;
  pool: string;
  clientId: string;
}

interface HandoverRequest {
  pool: string;
  clientId: string;
  node: string;
}

/** Compare-and-set attempts of one claim before it gives up (each loses only to another node's claim of the same session). */
const MAX_CLAIM_ATTEMPTS = 5;
/** How long after the handover timeout a node ends a session another node took without asking it, in ms. */
const EVICTION_GRACE_MS = 500;
/** Bucket reads at once while a starting node checks its stored sessions. */
const RECONCILE_CONCURRENCY = 16;
/** How often the delete markers of ended sessions are purged from the bucket, and how old they are then at least, in ms. */
const PURGE_INTERVAL_MS = 10 * 60_000;

export class SessionOwnership {
  private readonly watch: BucketWatch;
  private subscription: Subscription | undefined;
  /** Sessions another node took from this one, by bucket key: ended when their timer fires, unless a handover request came first. */
  private readonly evictions = new Map<string, NodeJS.Timeout>();
  private readonly counts: OwnershipStats = { claims: 0, takenOver: 0, takenWithoutState: 0, handedOver: 0, evicted: 0 };
  /** The sessions this node owns by its claims, by bucket key: the last claim's number and the entry's revision then. */
  private readonly owned = new Map<string, { claim: number; revision: number }>();
  private lastClaim = 0;
  /** Claims of this node still talking to the bucket, by key: an ended session's entry stays while one runs. */
  private readonly claiming = new Map<string, number>();
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ClusterConfig,
    private readonly bucket: KV,
    private readonly link: NatsLink,
    private readonly subjects: ClusterSubjects,
    private readonly hosts: SessionHosts,
    private readonly log: Logger,
  ) {
    this.watch = new BucketWatch(bucket, (entry) => this.changed(entry), log);
  }

  /** Answers handover requests from now on and watches the owners' changes. */
  async start(): Promise<void> {
    this.subscription = this.link.routes.subscribe(this.subjects.handover(this.config.nodeId), {
      callback: (err, msg) => {
        if (err) this.log.warn({ err }, 'cluster: the handover subscription failed');
        else void this.answerHandover(msg);
      },
    });
    await this.watch.start(false);
    this.purgeTimer = setInterval(() => this.purgeDeleted(), PURGE_INTERVAL_MS).unref();
  }

  /**
   * Makes this node the owner of session `clientId` of `pool`, the state its
   * previous owner handed over restored first. Resolves with the claim's
   * number, or 0 when the CONNECT is to be refused: the link to NATS is down
   * (or the bucket does not answer) and `connectWhileUnlinked` is off.
   */
  async claim(pool: string, clientId: string): Promise<number> {
    const claim = ++this.lastClaim;
    if (!this.link.linked) return this.config.connectWhileUnlinked ? claim : 0;
    const key = bucketKey(pool, clientId);
    this.claiming.set(key, (this.claiming.get(key) ?? 0) + 1);
    try {
      return await this.claimAs(claim, key, pool, clientId);
    } finally {
      const running = this.claiming.get(key)! - 1;
      if (running > 0) this.claiming.set(key, running);
      else this.claiming.delete(key);
    }
  }

  private async claimAs(claim: number, key: string, pool: string, clientId: string): Promise<number> {
    const unchecked = this.config.connectWhileUnlinked ? claim : 0;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      let previous: string | undefined;
      let revision: number;
      try {
        const entry = await this.bucket.get(key);
        if (entry === null || entry.operation !== 'PUT') {
          revision = await this.bucket.create(key, this.entryFor(pool, clientId, undefined));
        } else {
          previous = unpackData<OwnerEntry>(entry.value).node;
          revision =
            previous === this.config.nodeId
              ? entry.revision
              : await this.bucket.update(key, this.entryFor(pool, clientId, previous), entry.revision);
        }
      } catch (err) {
        if (lostTheRace(err)) continue;
        this.log.warn({ err, pool, clientId }, 'cluster: the session could not be claimed in the bucket');
        return unchecked;
      }
      this.owned.set(key, { claim, revision });
      if (previous === this.config.nodeId) return claim;
      this.counts.claims++;
      this.cancelEviction(key);
      if (previous !== undefined) await this.takeFrom(previous, pool, clientId);
      return claim;
    }
    this.log.warn({ pool, clientId }, 'cluster: the session was claimed by other nodes at every attempt; refusing');
    return 0;
  }

  /**
   * The session `clientId` of `pool` ended here, registered under `claim`:
   * its entry goes, unless a later claim of this node (done or running) or
   * another node's took it since.
   */
  release(pool: string, clientId: string, claim: number): void {
    const key = bucketKey(pool, clientId);
    const owned = this.owned.get(key);
    if (owned?.claim !== claim || this.claiming.has(key)) return;
    this.owned.delete(key);
    this.bucket.delete(key, { previousSeq: owned.revision }).catch((err: unknown) => {
      if (!lostTheRace(err)) this.log.debug({ err, pool, clientId }, 'cluster: the entry of an ended session could not be deleted');
    });
  }

  stats(): OwnershipStats {
    return { ...this.counts };
  }

  close(): void {
    this.watch.stop();
    clearInterval(this.purgeTimer);
    this.subscription?.unsubscribe();
    for (const timer of this.evictions.values()) clearTimeout(timer);
    this.evictions.clear();
  }

  private entryFor(pool: string, clientId: string, previous: string | undefined): Buffer {
    const entry: OwnerEntry = { node: this.config.nodeId, previous, pool, clientId };
    return packData(entry);
  }

  /** Asks `node`, the previous owner, for the session; restores what it hands over. */
  private async takeFrom(node: string, pool: string, clientId: string): Promise<void> {
    let record: MovedSession | null;
    try {
      const request: HandoverRequest = { pool, clientId, node: this.config.nodeId };
      const reply = await this.link.routes.request(this.subjects.handover(node), packData(request), {
        timeout: this.config.handoverTimeoutMs,
      });
      record = unpackData<MovedSession | null>(reply.data);
    } catch (err) {
      this.counts.takenWithoutState++;
      this.log.warn(
        { err, pool, clientId, from: node },
        'cluster: the previous owner did not hand the session over; it starts here without its state',
      );
      return;
    }
    if (record === null) return;
    await this.hosts.restore(record);
    this.counts.takenOver++;
    this.log.debug({ pool, clientId, from: node }, 'cluster: session handed over from another node');
  }

  /** Another node asks for a session this node owned: its connection here ends (0x8E), its record goes in the reply. */
  private async answerHandover(msg: Msg): Promise<void> {
    let record: MovedSession | undefined;
    try {
      const { pool, clientId, node } = unpackData<HandoverRequest>(msg.data);
      const key = bucketKey(pool, clientId);
      this.cancelEviction(key);
      this.owned.delete(key);
      record = await this.hosts.handOver(pool, clientId);
      if (record) {
        this.counts.handedOver++;
        this.log.debug({ pool, clientId, to: node }, 'cluster: session handed over to another node');
      }
    } catch (err) {
      this.log.warn({ err }, 'cluster: a handover request failed');
    }
    msg.respond(packData(record ?? null));
  }

  /** An owner changed: when another node took a session from this one, this node ends its copy unless the handover request comes in time. */
  private changed(entry: KvEntry): void {
    if (entry.operation !== 'PUT') return;
    const owner = unpackData<OwnerEntry>(entry.value);
    if (owner.previous !== this.config.nodeId || owner.node === this.config.nodeId) return;
    this.cancelEviction(entry.key);
    const timer = setTimeout(() => {
      this.evictions.delete(entry.key);
      this.evict(owner);
    }, this.config.handoverTimeoutMs + EVICTION_GRACE_MS);
    timer.unref();
    this.evictions.set(entry.key, timer);
  }

  private evict(owner: OwnerEntry): void {
    const { pool, clientId, node } = owner;
    this.owned.delete(bucketKey(pool, clientId));
    this.hosts.handOver(pool, clientId).then(
      (record) => {
        if (!record) return;
        this.counts.evicted++;
        this.log.warn({ pool, clientId, owner: node }, 'cluster: another node took this session without a handover; ended here');
      },
      (err: unknown) => this.log.warn({ err, pool, clientId }, 'cluster: ending a session another node took failed'),
    );
  }

  /**
   * Checks the sessions the hosts hold (taken back from their stores) against
   * the bucket, in the background: a session another node owns now is ended
   * here, unless a claim of this node took it since; one without an entry
   * gets one. Resolves once every session was checked.
   */
  async reconcile(): Promise<void> {
    const keys = await this.hosts.sessionKeys();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const { pool, clientId } = keys[next++]!;
        await this.reconcileOne(pool, clientId).catch((err: unknown) =>
          this.log.warn({ err, pool, clientId }, 'cluster: a stored session could not be checked against the bucket'),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, keys.length) }, worker));
  }

  private async reconcileOne(pool: string, clientId: string): Promise<void> {
    const key = bucketKey(pool, clientId);
    const entry = await this.bucket.get(key);
    if (this.owned.has(key) || this.claiming.has(key)) return;
    if (entry === null || entry.operation !== 'PUT') {
      await this.bucket.create(key, this.entryFor(pool, clientId, undefined)).catch((err: unknown) => {
        if (!lostTheRace(err)) throw err;
      });
      return;
    }
    const owner = unpackData<OwnerEntry>(entry.value);
    if (owner.node !== this.config.nodeId) this.evict(owner);
  }

  /** Purges the delete markers older than PURGE_INTERVAL_MS (KV keeps one per key deleted until purged). */
  private purgeDeleted(): void {
    (this.bucket as Bucket).purgeDeletes(PURGE_INTERVAL_MS).catch((err: unknown) => {
      this.log.debug({ err }, 'cluster: purging the delete markers of ended sessions failed');
    });
  }

  private cancelEviction(key: string): void {
    const timer = this.evictions.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.evictions.delete(key);
  }
}

/** A compare-and-set that lost to another write of the same key (JetStream's "wrong last sequence", 10071). */
function lostTheRace(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 10071 || (typeof message === 'string' && message.includes('wrong last sequence'));
}
