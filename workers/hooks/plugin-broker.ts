/**
 * What a module plugin may ask of the broker beyond answering its hooks
 * (PluginContext.disconnectClient): a request is validated here, as
 * Broker.disconnectClient validates its own, sent to the main thread in a
 * `disconnectClient` frame, and settled by the `disconnectResult` frame that
 * answers it (the main thread asks the host that owns the session, this one
 * or another). One per actor host: made before its module plugins load
 * (their factories get it in their context), attached to the host's
 * RouterLink when the host is built; what is still unanswered when the host
 * shuts down resolves false, as the broker's own call does while closing.
 * Runs wherever the actor host runs.
 */
import { serverDisconnect, type DisconnectClientOptions } from '../../src/api/server-disconnect.js';
import { DEFAULT_POOL } from '../../src/shared/topic/topic.js';
import type { RouterLink } from '../router-link.js';

export class PluginBroker {
  private link: RouterLink | undefined;
  private readonly pending = new Map<number, (connected: boolean) => void>();
  private nextRequestId = 1;

  /** The host's way to the main thread, once the host is built (before any plugin factory runs: they run after an import). */
  attach(link: RouterLink): void {
    this.link = link;
  }

  /** PluginContext.disconnectClient: resolves with whether the client (of `options.pool`, default '') was connected. */
  readonly disconnectClient = async (clientId: string, options: DisconnectClientOptions = {}): Promise<boolean> => {
    const request = serverDisconnect(clientId, options);
    const link = this.link;
    if (link === undefined) throw new Error('disconnectClient: the actor host is not built yet');
    const requestId = this.nextRequestId++;
    const answered = new Promise<boolean>((resolve) => this.pending.set(requestId, resolve));
    link.disconnectClient(requestId, options.pool ?? DEFAULT_POOL, clientId, request);
    return answered;
  };

  /** A disconnectResult frame. */
  answered(requestId: number, connected: boolean): void {
    const resolve = this.pending.get(requestId);
    this.pending.delete(requestId);
    resolve?.(connected);
  }

  /** The host shuts down: no answer will come. */
  close(): void {
    for (const resolve of this.pending.values()) resolve(false);
    this.pending.clear();
  }
}
