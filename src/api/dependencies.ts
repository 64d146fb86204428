/**
 * The second argument of createBroker: objects the embedding application
 * hands the broker beside its JSON configuration (which is validated and
 * copied to every actor host, so it holds no objects). Types only; main
 * thread.
 */
import type { RetainedStore } from './retained-store.js';

export interface BrokerDependencies {
  /** Keeps the retained messages; default: in memory, each pool bounded by `maxRetainedMemory`. */
  retainedStore?: RetainedStore;
}
