/**
 * The actor host's way out: typed writers for every ToRouter frame, appended
 * to the host's outbound batch (flushed once per event-loop turn). While a
 * message fans out (`beginShared` to `endShared`), identical PUBLISH bytes
 * for several connections are collected and leave as one `sendShared` frame
 * per encoding; any other frame written meanwhile lets them out first, so
 * the frames keep the order in which the sessions wrote them.
 * Runs wherever the actor host runs.
 */
import type { AppMessage } from '../src/shared/message/app-message.js';
import type { BatchWriter } from '../src/shared/channel/batch-writer.js';
import type { Outbox } from '../src/shared/channel/outbox.js';
import {
  writeAccepted,
  writeCommitted,
  writeConnectReleased,
  writeClaimSession,
  writeSessionReleased,
  writeCredit,
  writeDisconnectClient,
  writeEnd,
  writeThrottle,
  writeEvent,
  writeHookCall,
  writeMoveConnect,
  writePresence,
  writePublish,
  writeRedispatch,
  writeSend,
  writeSendShared,
  writeSessionEnded,
  writeSubscribe,
  writeUnsubscribe,
  type OpenFrame,
  type SessionEvent,
  type SubscribeRequest,
} from '../src/shared/channel/frames.js';
import type { ServerDisconnect } from '../src/shared/channel/host-control.js';

/** The connections that get one encoding of the message fanning out. */
interface SharedSend {
  bytes: Uint8Array;
  connIds: number[];
}

export class RouterLink {
  /** A message fans out: sendShared() collects instead of writing. */
  private sharing = false;
  /** Per encoding key (sendShared's caller's): the bytes and the connections collected so far. */
  private readonly shared = new Map<number, SharedSend>();

  constructor(private readonly outbox: Outbox) {}

  /** The batch to write the next frame into, after the shared sends collected so far. */
  private get writer(): BatchWriter {
    if (this.shared.size > 0) this.flushShared();
    return this.outbox.writer;
  }

  send(connId: number, bytes: Uint8Array): void {
    writeSend(this.writer, connId, bytes);
    this.outbox.commit();
  }

  /** A message starts fanning out to the sessions of a deliver frame. */
  beginShared(): void {
    this.sharing = true;
  }

  /** The bytes already encoded under `key` for the message fanning out, if any. */
  sharedBytes(key: number): Uint8Array | undefined {
    return this.shared.get(key)?.bytes;
  }

  /** Sends `bytes`, the message fanning out encoded under `key`, to `connId`: collected while sharing, else at once. */
  sendShared(connId: number, key: number, bytes: Uint8Array): void {
    if (!this.sharing) return this.send(connId, bytes);
    const entry = this.shared.get(key);
    if (entry === undefined) this.shared.set(key, { bytes, connIds: [connId] });
    else entry.connIds.push(connId);
  }

  /** The message is out to every session: what was collected leaves. */
  endShared(): void {
    this.sharing = false;
    if (this.shared.size > 0) this.flushShared();
  }

  private flushShared(): void {
    const w = this.outbox.writer;
    for (const { bytes, connIds } of this.shared.values()) {
      if (connIds.length === 1) writeSend(w, connIds[0]!, bytes);
      else writeSendShared(w, connIds, bytes);
      this.outbox.commit();
    }
    this.shared.clear();
  }

  end(connId: number): void {
    writeEnd(this.writer, connId);
    this.outbox.commit();
  }

  throttle(connId: number, ms: number): void {
    writeThrottle(this.writer, connId, ms);
    this.outbox.commit();
  }

  accepted(connId: number, keepalive: number, maxPacketSize: number, maxOutgoingPacketSize: number): void {
    writeAccepted(this.writer, connId, keepalive, maxPacketSize, maxOutgoingPacketSize);
    this.outbox.commit();
  }

  /** The CONNECT of `connId` continues on host `host` (the owner of its session); the main thread answers releaseConnect. */
  moveConnect(connId: number, host: number): void {
    writeMoveConnect(this.writer, connId, host);
    this.outbox.commit();
  }

  /** The released CONNECT: its open frame for the new host, and the connection's packets that waited here. */
  connectReleased(open: OpenFrame, held: readonly Uint8Array[]): void {
    writeConnectReleased(this.writer, open, held);
    this.outbox.commit();
  }

  /** The CONNECT of `connId` registers session `clientId` of `pool`: the main thread makes this node its cluster-wide owner and answers sessionClaimed. */
  claimSession(connId: number, pool: string, clientId: string): void {
    writeClaimSession(this.writer, connId, pool, clientId);
    this.outbox.commit();
  }

  /** The session `clientId` of `pool`, registered under cluster claim `claim`, ended on this host. */
  sessionReleased(pool: string, clientId: string, claim: number): void {
    writeSessionReleased(this.writer, pool, clientId, claim);
    this.outbox.commit();
  }

  /** `ackId` (0 = none): the publish whose acknowledgement waits for a `released` frame. */
  publish(pool: string, sid: number, message: AppMessage, ackId = 0): void {
    writePublish(this.writer, pool, sid, message, ackId);
    this.outbox.commit();
  }

  subscribe(req: SubscribeRequest): void {
    writeSubscribe(this.writer, req);
    this.outbox.commit();
  }

  unsubscribe(pool: string, sid: number, filter: string): void {
    writeUnsubscribe(this.writer, pool, sid, filter);
    this.outbox.commit();
  }

  drop(sid: number): void {
    writeSessionEnded(this.writer, sid);
    this.outbox.commit();
  }

  event(event: SessionEvent): void {
    writeEvent(this.writer, event);
    this.outbox.commit();
  }

  redispatch(pool: string, sid: number, share: string, message: AppMessage): void {
    writeRedispatch(this.writer, pool, sid, share, message);
    this.outbox.commit();
  }

  presence(sid: number, online: boolean): void {
    writePresence(this.writer, sid, online);
    this.outbox.commit();
  }

  hookCall(callId: number, hook: string, args: string): void {
    writeHookCall(this.writer, callId, hook, args);
    this.outbox.commit();
  }

  /** A module plugin's disconnect of client `clientId` of `pool`; the main thread answers disconnectResult `requestId`. */
  disconnectClient(requestId: number, pool: string, clientId: string, request: ServerDisconnect): void {
    writeDisconnectClient(this.writer, requestId, pool, clientId, request);
    this.outbox.commit();
  }

  committed(tokens: readonly number[], ok: boolean): void {
    writeCommitted(this.writer, tokens, ok);
    this.outbox.commit();
  }

  credit(batches: number): void {
    writeCredit(this.writer, batches);
    this.outbox.commit();
  }

  flush(): void {
    this.outbox.flush();
  }
}
