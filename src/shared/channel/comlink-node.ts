/**
 * comlink over node:worker_threads MessagePorts, for the control plane only
 * (stats, shutdown). Used on the main thread and in workers.
 */
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import adapterModule from 'comlink/dist/umd/node-adapter.js';

/** Node's ESM loader hands the UMD build's exported function itself to a default import. */
const nodeEndpoint = adapterModule as unknown as typeof adapterModule.default;

export function exposeOnPort<T extends object>(api: T, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port));
}

export function wrapPort<T>(port: MessagePort): Comlink.Remote<T> {
  return Comlink.wrap<T>(nodeEndpoint(port));
}
