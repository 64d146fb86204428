/**
 * Helpers of the plugin hook tests: a recording in-process plugin that
 * implements every hook (accepting by default), records each call with its
 * arguments in one ordered log (with markers the test adds, such as the
 * client's CONNACK), and answers as the test tells it per hook; bounded
 * waits for a call; the broker settings the suites run under; and a
 * describe block's broker with a recorder as its plugin. Runs in the test
 * process (main thread).
 */
import { afterEach } from 'node:test';
import type { BrokerConfig } from '../../src/api/config.js';
import type { Hooks, HookName, Plugin } from '../../src/api/hooks.js';
import { HOOK_KINDS } from '../../src/api/hooks.js';
import { brokerForSuite, type TestBroker } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/clients.js';

export interface Call {
  /** A hook name, or `mark:<label>` for a marker the test added. */
  hook: string;
  args: unknown[];
}

type Answer = (...args: any[]) => unknown;

/** Worker counts the in-process plugin suites run under: hosts on the main thread, and two worker hosts (hookCall frames). */
export const WORKER_COUNTS = [0, 2] as const;

export class Recorder {
  readonly calls: Call[] = [];
  /** The test's answer per hook; without one an all_till_ok hook answers 'ok'. Cleared by reset(). */
  answers: Partial<Record<HookName, Answer>> = {};
  readonly plugin: Plugin;
  private waiters: Array<{ match: (c: Call) => boolean; resolve: (c: Call) => void }> = [];

  constructor(name = 'recorder') {
    const plugin: Record<string, unknown> = { name };
    for (const hook of Object.keys(HOOK_KINDS) as HookName[]) {
      plugin[hook] = (...args: unknown[]): unknown => {
        this.push({ hook, args });
        const answer = this.answers[hook];
        if (answer) return answer(...args);
        return HOOK_KINDS[hook] === 'all_till_ok' ? 'ok' : undefined;
      };
    }
    this.plugin = plugin as Plugin;
  }

  /** Answers `hook` with `answer` from now on (until reset). */
  answer<H extends HookName>(hook: H, answer: (...args: Parameters<Hooks[H]>) => unknown): void {
    this.answers[hook] = answer as Answer;
  }

  /** Answers `hook` and its `_m5` twin (whose arguments start the same) with `answer`. */
  answerBoth<H extends 'auth_on_register' | 'auth_on_publish' | 'auth_on_subscribe' | 'on_unsubscribe' | 'on_deliver'>(
    hook: H,
    answer: (...args: Parameters<Hooks[H]>) => unknown,
  ): void {
    this.answers[hook] = answer as Answer;
    this.answers[`${hook}_m5`] = answer as Answer;
  }

  reset(): void {
    this.answers = {};
  }

  /** Adds a marker to the log, e.g. when the client received its CONNACK. */
  mark(label: string, clientId: string): void {
    this.push({ hook: `mark:${label}`, args: [{ mountpoint: '', clientId }] });
  }

  /** Every call (and marker) concerning `clientId`, in order. */
  of(clientId: string): Call[] {
    return this.calls.filter((c) => concerns(c, clientId));
  }

  /** Hook names (and markers) concerning `clientId`, in order, optionally only those in `only`. */
  sequence(clientId: string, only?: readonly string[]): string[] {
    return this.of(clientId)
      .map((c) => c.hook)
      .filter((h) => !only || only.includes(h));
  }

  /** The first call of `hook` concerning `clientId` (and matching `predicate`), recorded or to come; rejects after the bound. */
  waitFor(hook: string, clientId: string, predicate: (c: Call) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Call> {
    const match = (c: Call): boolean => c.hook === hook && concerns(c, clientId) && predicate(c);
    const found = this.calls.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Call>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (c: Call) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`${hook} for ${clientId} not called within ${timeoutMs} ms; calls: ${this.sequence(clientId).join(', ') || 'none'}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private push(call: Call): void {
    this.calls.push(call);
    const ready = this.waiters.filter((w) => w.match(call));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(call);
  }
}

/**
 * A broker for the enclosing describe block (brokerForSuite) with a new
 * Recorder as its in-process plugin; after each test the recorder's answers
 * are reset, then the test's clients are closed.
 */
export function recordedBroker(config: Partial<BrokerConfig>): { recorder: Recorder; b: TestBroker } {
  const recorder = new Recorder();
  afterEach(() => recorder.reset());
  return { recorder, b: brokerForSuite(config, { plugins: [recorder.plugin] }) };
}

/** Whether a call names `clientId` in one of its subscriber id arguments. */
export function concerns(call: Call, clientId: string): boolean {
  return call.args.some((a) => typeof a === 'object' && a !== null && (a as { clientId?: unknown }).clientId === clientId);
}

/** A promise with its resolve function, to hold a plugin's answer until the test releases it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
