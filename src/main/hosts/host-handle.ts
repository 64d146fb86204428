/**
 * The main thread's handle on one actor host, wherever it runs: its
 * data-plane endpoint, its control surface, and a promise that settles when
 * the host stops (rejects when its worker died). Main thread.
 */
import type { BatchEndpoint } from '../../shared/channel/endpoint.js';
import type { HostControl } from '../../shared/channel/host-control.js';

export interface HostHandle {
  readonly index: number;
  readonly endpoint: BatchEndpoint;
  readonly control: HostControl;
  readonly exited: Promise<void>;
}

/** Starts (or restarts) the host for one shard index. */
export interface HostLauncher {
  start(index: number): HostHandle;
  close(): Promise<void>;
}
