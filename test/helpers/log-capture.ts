/**
 * Test helper: a pino destination (`pino({ level }, capture)`) that keeps
 * every JSON record an application logger handed to the broker
 * (createBroker({ logger })) writes, and lets a test wait for one, bounded.
 * Runs in the test process.
 */
import { Writable } from 'node:stream';
import { WAIT_MS } from './clients.js';

export type LogRecord = Record<string, unknown>;

/** A pino destination that keeps every record and tells the tests waiting for one. */
export class LogCapture extends Writable {
  readonly records: LogRecord[] = [];
  private readonly waiters = new Set<(record: LogRecord) => void>();

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      const record = JSON.parse(line) as LogRecord;
      this.records.push(record);
      for (const waiter of this.waiters) waiter(record);
    }
    done();
  }

  /** The first record (kept or to come) with message `msg` for client `clientId`; rejects after `timeoutMs`. */
  line(msg: string, clientId: string, timeoutMs = WAIT_MS): Promise<LogRecord> {
    return this.find((r) => r['msg'] === msg && r['clientId'] === clientId, `"${msg}" line for ${clientId}`, timeoutMs);
  }

  /** The first record (kept or to come) that `matches`; rejects after `timeoutMs`, naming `what`. */
  find(matches: (record: LogRecord) => boolean, what: string, timeoutMs = WAIT_MS): Promise<LogRecord> {
    const kept = this.records.find(matches);
    if (kept) return Promise.resolve(kept);
    return new Promise((resolve, reject) => {
      const waiter = (r: LogRecord): void => {
        if (!matches(r)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}
