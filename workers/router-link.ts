/**
 * The actor host's way out: typed writers for every ToRouter frame, appended
 * to the host's outbound batch (flushed once per event-loop turn).
 * Runs wherever the actor host runs.
 */
import type { AppMessage } from '../src/shared/message/app-message.js';
import type { Outbox } from '../src/shared/channel/outbox.js';
import {
  writeAccepted,
  writeCommitted,
  writeCredit,
  writeEnd,
  writeEvent,
  writeHookCall,
  writePresence,
  writePublish,
  writeRedispatch,
  writeSend,
  writeSessionEnded,
  writeSubscribe,
  writeUnsubscribe,
  type SessionEvent,
  type SubscribeRequest,
} from '../src/shared/channel/frames.js';

export class RouterLink {
  constructor(private readonly outbox: Outbox) {}

  send(connId: number, bytes: Uint8Array): void {
    writeSend(this.outbox.writer, connId, bytes);
    this.outbox.commit();
  }

  end(connId: number): void {
    writeEnd(this.outbox.writer, connId);
    this.outbox.commit();
  }

  accepted(connId: number, keepalive: number, maxPacketSize: number, maxOutgoingPacketSize: number): void {
    writeAccepted(this.outbox.writer, connId, keepalive, maxPacketSize, maxOutgoingPacketSize);
    this.outbox.commit();
  }

  /** `ackId` (0 = none): the publish whose acknowledgement waits for a `released` frame. */
  publish(pool: string, sid: number, message: AppMessage, ackId = 0): void {
    writePublish(this.outbox.writer, pool, sid, message, ackId);
    this.outbox.commit();
  }

  subscribe(req: SubscribeRequest): void {
    writeSubscribe(this.outbox.writer, req);
    this.outbox.commit();
  }

  unsubscribe(pool: string, sid: number, filter: string): void {
    writeUnsubscribe(this.outbox.writer, pool, sid, filter);
    this.outbox.commit();
  }

  drop(sid: number): void {
    writeSessionEnded(this.outbox.writer, sid);
    this.outbox.commit();
  }

  event(event: SessionEvent): void {
    writeEvent(this.outbox.writer, event);
    this.outbox.commit();
  }

  redispatch(pool: string, sid: number, share: string, message: AppMessage): void {
    writeRedispatch(this.outbox.writer, pool, sid, share, message);
    this.outbox.commit();
  }

  presence(sid: number, online: boolean): void {
    writePresence(this.outbox.writer, sid, online);
    this.outbox.commit();
  }

  hookCall(callId: number, hook: string, args: string): void {
    writeHookCall(this.outbox.writer, callId, hook, args);
    this.outbox.commit();
  }

  committed(tokens: readonly number[], ok: boolean): void {
    writeCommitted(this.outbox.writer, tokens, ok);
    this.outbox.commit();
  }

  credit(batches: number): void {
    writeCredit(this.outbox.writer, batches);
    this.outbox.commit();
  }

  flush(): void {
    this.outbox.flush();
  }
}
