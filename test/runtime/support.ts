/**
 * Helpers of the session runtime suites: the paths of the recording and the
 * faulty runtime fixtures, a listener collecting the calls it reports on its
 * BroadcastChannel (from any actor host), bounded waits for a call, the
 * worker counts the suites run under (hosts on the main thread, and a
 * worker), and a broker with a WebSocket listener with mqtt.js options for it.
 */
import { fileURLToPath } from 'node:url';
import type { BrokerConfig } from '../../src/api/config.js';
import type { Plugin } from '../../src/api/hooks.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { ChannelLog } from '../helpers/channel.js';
import { WAIT_MS, type ConnectOptions } from '../helpers/clients.js';
import { CHANNEL, type RuntimeCall } from './fixtures/recording-runtime.js';

export const RUNTIME_FIXTURE = fileURLToPath(new URL('./fixtures/recording-runtime.js', import.meta.url));
export const FAULTY_RUNTIME_FIXTURE = fileURLToPath(new URL('./fixtures/faulty-runtime.js', import.meta.url));

export const WORKER_COUNTS = [0, 1] as const;

/** The calls the recording runtime reports, from any actor host. */
export class RuntimeCalls {
  private readonly log = new ChannelLog<RuntimeCall>(CHANNEL);

  /** Every call reported so far, in arrival order. */
  get calls(): RuntimeCall[] {
    return this.log.all;
  }

  /** Calls of `callback` so far whose arguments satisfy `match`. */
  of(callback: string, match: (args: unknown[]) => boolean = () => true): RuntimeCall[] {
    return this.calls.filter((c) => c.callback === callback && match(c.args));
  }

  /**
   * The first call of `callback` (seen or to come) whose arguments satisfy
   * `match`, after the first `skip` such calls, bounded.
   */
  waitFor(callback: string, match: (args: unknown[]) => boolean = () => true, timeoutMs = WAIT_MS, skip = 0): Promise<RuntimeCall> {
    return this.log.waitFor((c) => c.callback === callback && match(c.args), `call of runtime callback ${callback}`, timeoutMs, skip);
  }

  close(): void {
    this.log.close();
  }
}

export interface WsBroker extends TestBroker {
  wsPort: number;
  /** `opts` for a client of the WebSocket listener, sending `userAgent` in the upgrade request when given. */
  overWs(opts: ConnectOptions, userAgent?: string): ConnectOptions;
}

/** A test broker with a WebSocket listener too. */
export async function startWsBroker(overrides: Partial<BrokerConfig> = {}, plugins: Plugin[] = []): Promise<WsBroker> {
  const tb = await startBroker({ wsPort: 0, ...overrides }, { plugins });
  const path = tb.broker.config.wsPath;
  return {
    ...tb,
    wsPort: tb.broker.addresses().ws?.port as number,
    overWs: (opts, userAgent) => ({
      ...opts,
      protocol: 'ws',
      path,
      ...(userAgent ? { wsOptions: { headers: { 'User-Agent': userAgent } } } : {}),
    }),
  };
}
