/**
 * The acknowledgements that wait for commits: a QoS 1/2 publish whose host
 * numbered it (`ackId`, when that host has a session store) is followed from
 * its routing until every place that keeps it reports its commit: each host
 * it was delivered to (a `committed` frame naming the publish's token) and
 * the retained store, when it answered the write with a promise. Then the
 * publisher's host is told (`released`), and only then does its client get
 * PUBACK or PUBREC. A commit that failed, or a host that failed before
 * reporting, releases the publish as not kept. Main thread.
 */

/** One publish waiting for commits. */
interface Waiting {
  /** The publisher's host, and the id it gave the publish. */
  host: number;
  ackId: number;
  /** Reports still to come, plus one while the publish is being routed. */
  waits: number;
  ok: boolean;
  /** The hosts that got a deliver frame with its token (a host may appear more than once). */
  hosts: number[];
}

/** Tells the publisher's host that its publish `ackId` was kept (`ok`), or not. */
export type Release = (host: number, ackId: number, ok: boolean) => void;

export class Acknowledgements {
  private readonly waiting = new Map<number, Waiting>();
  private nextToken = 1;
  /** The publish being routed now, and its token; 0 while none is. */
  private routing: Waiting | undefined;
  private routingToken = 0;

  constructor(private readonly release: Release) {}

  /** How many publishes wait for commits now. */
  get size(): number {
    return this.waiting.size;
  }

  /** Publish `ackId` of `host` is about to be routed: the deliver frames written until `routed()` carry its token. */
  routingStarts(host: number, ackId: number): void {
    const token = this.nextToken;
    this.nextToken = token === 0xffffffff ? 1 : token + 1;
    this.routing = { host, ackId, waits: 1, ok: true, hosts: [] };
    this.routingToken = token;
    this.waiting.set(token, this.routing);
  }

  /** The token for a deliver frame to `host`: the publish being routed waits for that host's report (0 when none is routed). */
  tokenFor(host: number): number {
    const routing = this.routing;
    if (routing === undefined) return 0;
    routing.waits++;
    routing.hosts.push(host);
    return this.routingToken;
  }

  /** The publish being routed also waits for `commit` (the retained store's write). */
  waitFor(commit: Promise<void>): void {
    const routing = this.routing;
    if (routing === undefined) return;
    routing.waits++;
    const token = this.routingToken;
    commit.then(
      () => this.settle(token, true),
      () => this.settle(token, false),
    );
  }

  /** The publish is routed: it is released now if nothing keeps it, else when the last report comes. */
  routed(): void {
    const token = this.routingToken;
    this.routing = undefined;
    this.routingToken = 0;
    this.settle(token, true);
  }

  /** A host reports its commit of the deliveries of `tokens` (or its failure). */
  committed(host: number, tokens: readonly number[], ok: boolean): void {
    for (const token of tokens) {
      const waiting = this.waiting.get(token);
      if (waiting === undefined) continue;
      const at = waiting.hosts.indexOf(host);
      if (at >= 0) waiting.hosts.splice(at, 1);
      this.settle(token, ok);
    }
  }

  /**
   * Host `index` failed: the publishes it delivered to and did not report are
   * released as not kept; those it published are forgotten (its client's
   * connection is gone with it).
   */
  hostFailed(index: number): void {
    for (const [token, waiting] of this.waiting) {
      if (waiting.host === index) {
        this.waiting.delete(token);
        continue;
      }
      let missing = 0;
      for (const host of waiting.hosts) if (host === index) missing++;
      if (missing === 0) continue;
      waiting.hosts = waiting.hosts.filter((host) => host !== index);
      for (let i = 0; i < missing; i++) this.settle(token, false);
    }
  }

  private settle(token: number, ok: boolean): void {
    const waiting = this.waiting.get(token);
    if (waiting === undefined) return;
    if (!ok) waiting.ok = false;
    if (--waiting.waits > 0) return;
    this.waiting.delete(token);
    this.release(waiting.host, waiting.ackId, waiting.ok);
  }
}
