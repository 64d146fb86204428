/**
 * This node's link to NATS: two client connections to the same servers,
 * `routes` (echo off: it publishes this node's messages and holds the
 * subscriptions of its plain interest, so its own messages never come back
 * to it) and `shares` (the queue subscriptions of its shared groups, which
 * may pick this very node), and whether both are up. The client reconnects
 * by itself, without end, and subscribes again what it held. Main thread.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';

/** How long the client waits between attempts to reach a NATS server again, in ms. */
const RECONNECT_WAIT_MS = 250;

export class NatsLink {
  /** The connections that are down now. */
  private readonly down = new Set<NatsConnection>();
  /** Times the link went down since it opened. */
  private losses = 0;

  private constructor(
    readonly routes: NatsConnection,
    readonly shares: NatsConnection,
    private readonly log: Logger,
    private readonly changed: (linked: boolean) => void,
  ) {
    this.watch(routes, 'routes');
    this.watch(shares, 'shares');
  }

  /** Connects to `config.servers`; rejects with one line naming them when none answers. `changed` hears the link go down and up. */
  static async open(config: ClusterConfig, log: Logger, changed: (linked: boolean) => void): Promise<NatsLink> {
    const options = {
      servers: config.servers,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
    };
    let routes: NatsConnection | undefined;
    try {
      routes = await connect({ ...options, name: `shoal-${config.nodeId}-routes`, noEcho: true });
      const shares = await connect({ ...options, name: `shoal-${config.nodeId}-shares` });
      return new NatsLink(routes, shares, log, changed);
    } catch (err) {
      await routes?.close();
      throw new Error(`cluster: cannot reach NATS at ${config.servers.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Both connections are up. */
  get linked(): boolean {
    return this.down.size === 0;
  }

  /** Times the link went down since it opened. */
  get lossCount(): number {
    return this.losses;
  }

  /** Sends what each connection buffered, then closes both. */
  async close(): Promise<void> {
    await Promise.allSettled([this.routes.drain(), this.shares.drain()]);
  }

  private watch(nc: NatsConnection, name: string): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.mark(nc, false, name);
        else if (status.type === 'reconnect') this.mark(nc, true, name);
      }
    })();
  }

  private mark(nc: NatsConnection, connected: boolean, name: string): void {
    const was = this.linked;
    if (connected) this.down.delete(nc);
    else this.down.add(nc);
    const up = this.linked;
    if (up === was) return;
    if (!up) this.losses++;
    if (up) this.log.info({ connection: name }, 'cluster link to NATS is up again');
    else this.log.warn({ connection: name }, 'cluster link to NATS is down; serving local clients, reconnecting');
    this.changed(up);
  }
}
