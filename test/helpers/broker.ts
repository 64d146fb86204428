/**
 * Integration-test helper: starts a Shoal broker through the embedding API on
 * 127.0.0.1 with an ephemeral port, silent logs and one worker unless told
 * otherwise, waits until its actor hosts answer, and closes it with a bound;
 * brokerForSuite does the same for a whole file or describe block through
 * node:test's hooks, closing the test clients as it goes. Runs in the test
 * process (main thread). Set SHOAL_TEST_LOG=debug (or any pino level) to see
 * the broker's logs while debugging a test.
 */
import { after, afterEach, before } from 'node:test';
import { createBroker, type BrokerOptions } from '../../src/index.js';
import type { LogLevel } from '../../src/api/config.js';
import type { Plugin } from '../../src/api/hooks.js';
import type { BrokerDependencies } from '../../src/api/dependencies.js';
import { closeAllClients, withBound } from './clients.js';
import { closeAllRawClients } from './raw-client.js';

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
  /** The second argument of createBroker (a retained store). */
  dependencies?: BrokerDependencies;
}

export async function startBroker(overrides: BrokerOptions = {}, options: StartOptions = {}): Promise<TestBroker> {
  const logLevel = (process.env['SHOAL_TEST_LOG'] as LogLevel | undefined) ?? 'silent';
  // No $SYS figures unless a test asks: they are retained messages, and would count in the tests' retained figures.
  const broker = createBroker({ host: '127.0.0.1', port: 0, workers: 1, logLevel, sysInterval: 0, ...overrides }, options.dependencies);
  for (const plugin of options.plugins ?? []) broker.addPlugin(plugin);
  const { port } = await withBound(broker.listen(), 15_000, 'broker.listen()');
  // listen() can resolve before the worker threads are up; a stats() round trip
  // with every host is the readiness barrier, so a test's first CONNECT does not
  // also measure worker start-up (connect.test.ts covers that case on its own).
  if (options.waitForHosts !== false) {
    await withBound(broker.stats(), 15_000, 'broker.stats() (actor hosts ready)');
  }
  let closing: Promise<void> | undefined;
  return {
    broker,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    close() {
      closing ??= withBound(Promise.resolve(broker.close()), CLOSE_BOUND_MS, 'broker.close()').then(() => undefined);
      return closing;
    },
  };
}

export interface SuiteOptions extends StartOptions {
  /**
   * Close every mqtt.js and raw client after each test (default true); false
   * keeps them until the suite ends, for suites whose clients outlive a test.
   */
  closeClientsAfterEach?: boolean;
  /**
   * Called with the started broker inside the `before` hook, e.g. to attach
   * event listeners. (At the top level of a file node:test starts a `before`
   * hook as soon as it is registered, so a later hook of the file cannot
   * count on the broker being up.)
   */
  onStarted?: (broker: TestBroker) => void;
}

/**
 * One broker for the enclosing file or describe block: registers a `before`
 * hook that starts it, an `afterEach` that closes every mqtt.js and raw
 * client, and an `after` that closes those clients and then the broker.
 * Inside a describe block, hooks of the same kind run one after the other in
 * the order they are registered, so a hook registered before this call runs
 * before the broker starts (and, for `after`, before it closes). The returned object reads through to the
 * started broker; using it before the `before` hook ran throws.
 */
export function brokerForSuite(overrides: BrokerOptions = {}, options: SuiteOptions = {}): TestBroker {
  let started: TestBroker | undefined;
  const current = (): TestBroker => {
    if (!started) throw new Error('brokerForSuite: the broker is not started yet (use it inside a test or a hook after its before hook)');
    return started;
  };
  const closeClients = async (): Promise<void> => {
    await closeAllClients();
    await closeAllRawClients();
  };
  before(async () => {
    started = await startBroker(overrides, options);
    options.onStarted?.(started);
  });
  if (options.closeClientsAfterEach !== false) afterEach(closeClients);
  after(async () => {
    await closeClients();
    await started?.close();
  });
  return {
    get broker() {
      return current().broker;
    },
    get port() {
      return current().port;
    },
    get url() {
      return current().url;
    },
    close: () => current().close(),
  };
}
