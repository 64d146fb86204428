/**
 * Integration-test helper: starts a Shoal broker through the embedding API on
 * 127.0.0.1 with an ephemeral port, silent logs and one worker unless told
 * otherwise, waits until its actor hosts answer, and closes it with a bound. Set SHOAL_TEST_LOG=debug (or any
 * pino level) to see the broker's logs while debugging a test.
 */
import { createBroker } from '../../src/index.js';
import type { BrokerConfig, LogLevel } from '../../src/config.js';
import type { Plugin } from '../../src/hooks/types.js';

export type Broker = ReturnType<typeof createBroker>;

export interface TestBroker {
  broker: Broker;
  port: number;
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  /** Graceful close, bounded; safe to call more than once. */
  close(): Promise<void>;
}

const CLOSE_BOUND_MS = 10_000;

export interface StartOptions {
  /** Wait until every actor host answers before resolving (default true). */
  waitForHosts?: boolean;
  /** In-process plugins added (broker.addPlugin) before listen(). */
  plugins?: Plugin[];
}

export async function startBroker(overrides: Partial<BrokerConfig> = {}, options: StartOptions = {}): Promise<TestBroker> {
  const logLevel = (process.env['SHOAL_TEST_LOG'] as LogLevel | undefined) ?? 'silent';
  const broker = createBroker({ host: '127.0.0.1', port: 0, workers: 1, logLevel, ...overrides });
  for (const plugin of options.plugins ?? []) broker.addPlugin(plugin);
  const { port } = await withTimeout(broker.listen(), 15_000, 'broker.listen()');
  // listen() can resolve before the worker threads are up; a stats() round trip
  // with every host is the readiness barrier, so a test's first CONNECT does not
  // also measure worker start-up (connect.test.ts covers that case on its own).
  if (options.waitForHosts !== false) {
    await withTimeout(broker.stats(), 15_000, 'broker.stats() (actor hosts ready)');
  }
  let closing: Promise<void> | undefined;
  return {
    broker,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    close() {
      closing ??= withTimeout(Promise.resolve(broker.close()), CLOSE_BOUND_MS, 'broker.close()').then(() => undefined);
      return closing;
    },
  };
}

/** Resolves or rejects like `promise`, or rejects after `ms` naming `what`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(err); },
    );
  });
}
