/**
 * Two in-memory byte streams joined to each other, for serving MQTT through
 * `Broker.handle` without a socket: what one side writes, the other reads,
 * one event-loop turn later (never re-entrant). Ending a side ends the
 * other's readable side; destroying a side ends it too, as a closed socket
 * would. Runs on the test process's main thread.
 */
import { Duplex } from 'node:stream';

class PairSide extends Duplex {
  peer: PairSide | undefined;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer && !peer.destroyed) peer.push(chunk);
    });
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.endPeer();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.endPeer();
    done(err);
  }

  private endPeer(): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer && !peer.destroyed && !peer.readableEnded) peer.push(null);
    });
  }
}

/**
 * `[client, server]`. With `allowHalfOpen` a side stays writable after its
 * readable side ended (a plain Duplex's default); without, it ends too, as a
 * net.Socket of a server does.
 */
export function duplexPair(options: { allowHalfOpen?: boolean } = {}): [Duplex, Duplex] {
  const allowHalfOpen = options.allowHalfOpen ?? false;
  const a = new PairSide({ allowHalfOpen });
  const b = new PairSide({ allowHalfOpen });
  a.peer = b;
  b.peer = a;
  return [a, b];
}
