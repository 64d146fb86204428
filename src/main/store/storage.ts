/**
 * What the broker keeps on disk, opened when the broker is created (before
 * its actor hosts start) and closed last by Broker.close(): the data
 * directory (config.dataDir, data-dir.ts) and the durable retained store
 * (lmdb-retained-store.ts) unless the application brought its own. With no
 * dataDir there is nothing to open and nothing changes. A directory that
 * cannot be used is kept as `failure`, which listen() rejects with. Main
 * thread.
 */
import type { BrokerConfig } from '../../api/config.js';
import type { RetainedStore } from '../../api/retained-store.js';
import type { Logger } from '../../shared/log.js';
import { DataDir, DataDirError } from './data-dir.js';
import { LmdbRetainedStore } from './lmdb-retained-store.js';

export class BrokerStorage {
  private closing: Promise<void> | undefined;

  private constructor(
    /** The open data directory; undefined without dataDir or after a failure. */
    readonly dataDir: DataDir | undefined,
    /** The durable retained store, when the broker keeps its retained messages on disk. */
    readonly retainedStore: LmdbRetainedStore | undefined,
    /** Why dataDir could not be used (one line naming the directory). */
    readonly failure: Error | undefined,
  ) {}

  /** Opens config.dataDir, if set, and the durable retained store unless `ownRetainedStore` (the application's). Never throws. */
  static open(config: BrokerConfig, log: Logger, ownRetainedStore: RetainedStore | undefined): BrokerStorage {
    if (config.dataDir === '') return new BrokerStorage(undefined, undefined, undefined);
    let dataDir: DataDir | undefined;
    try {
      dataDir = DataDir.open(config.dataDir, config.durability, log);
      const retained =
        ownRetainedStore === undefined
          ? new LmdbRetainedStore(dataDir, { maxMemoryBytes: config.maxRetainedMemory }, log.child({ store: 'retained' }))
          : undefined;
      log.info({ dataDir: dataDir.path, durability: config.durability }, 'data directory open');
      return new BrokerStorage(dataDir, retained, undefined);
    } catch (err) {
      if (dataDir !== undefined) void dataDir.close().catch(() => undefined);
      const failure =
        err instanceof DataDirError
          ? err
          : new DataDirError(`config.dataDir: ${config.dataDir}: ${err instanceof Error ? err.message : String(err)}`);
      return new BrokerStorage(undefined, undefined, failure);
    }
  }

  /** Stops the retained store's writes, waits for those made, closes the environment and releases the lock. Once. */
  close(): Promise<void> {
    this.retainedStore?.close();
    this.closing ??= this.dataDir?.close() ?? Promise.resolve();
    return this.closing;
  }
}
