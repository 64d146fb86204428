/**
 * A real ActorHost driven in-process with the binary frames the main thread
 * would send (open, packet, closed, deliver) over an in-thread endpoint pair. Every
 * frame the host sends towards the router is kept in order, and the packets
 * it sends to a connection are decoded with mqtt-packet (5.0). A publish
 * whose acknowledgement waits for its commits is released at once, as the
 * main thread does when no other host and no retained store keep it.
 */
import mqttPacket from 'mqtt-packet';
import { BatchReader } from '../../src/shared/channel/batch-reader.js';
import { inlineEndpoints } from '../../src/shared/channel/endpoint.js';
import { Outbox } from '../../src/shared/channel/outbox.js';
import { resolveConfig } from '../../src/api/config-schema.js';
import { createLogger } from '../../src/shared/log.js';
import {
  readToRouter,
  writeClosed,
  writeDeliver,
  writeOpen,
  writePacket,
  writeReleased,
  type DeliveryTarget,
  type ToRouter,
} from '../../src/shared/channel/frames.js';
import type { AppMessage } from '../../src/shared/message/app-message.js';
import { ActorHost, type HostPlugins } from '../../workers/actor-host.js';
import type { Authenticator } from '../../workers/connect/authenticator.js';

export interface FrameHost {
  host: ActorHost;
  /** Every frame the host sent towards the router, in order. */
  frames: ToRouter[];
  open(connId: number, packet: mqttPacket.IConnectPacket): void;
  packet(connId: number, packet: mqttPacket.Packet): void;
  closed(connId: number): void;
  /** A routed message for sessions of this host (`targets` name them by sid, as the router's subscribe frames do). */
  deliver(message: AppMessage, targets: DeliveryTarget[]): void;
  /** The next packet the host sent to `connId`, or 'end' when it ended the connection; rejects after `timeoutMs`. */
  next(connId: number, timeoutMs?: number): Promise<mqttPacket.Packet | 'end'>;
  stop(): Promise<void>;
}

export function startFrameHost(options: { authenticator?: Authenticator; plugins?: HostPlugins } = {}): FrameHost {
  const config = resolveConfig({ logLevel: 'silent', workers: 0 });
  const [routerSide, hostSide] = inlineEndpoints();
  const host = new ActorHost(0, config, hostSide, createLogger('silent', 'test'), options.authenticator, options.plugins);
  const toHost = new Outbox(routerSide, config);
  const frames: ToRouter[] = [];
  const queues = new Map<number, Array<mqttPacket.Packet | 'end'>>();
  const waiters = new Map<number, (p: mqttPacket.Packet | 'end') => void>();
  const push = (connId: number, item: mqttPacket.Packet | 'end'): void => {
    const waiter = waiters.get(connId);
    if (waiter) {
      waiters.delete(connId);
      waiter(item);
      return;
    }
    queues.set(connId, [...(queues.get(connId) ?? []), item]);
  };
  routerSide.onBatch((batch) => {
    const reader = new BatchReader(batch);
    while (!reader.done) {
      const frame = readToRouter(reader);
      frames.push(frame);
      if (frame.kind === 'end') push(frame.connId, 'end');
      if (frame.kind === 'publish' && frame.ackId !== 0) {
        writeReleased(toHost.writer, frame.ackId, true);
        toHost.commit();
      }
      const sends = frame.kind === 'send' ? [frame.connId] : frame.kind === 'sendShared' ? frame.connIds : [];
      for (const connId of sends) {
        const parser = mqttPacket.parser({ protocolVersion: 5 });
        parser.on('packet', (p: mqttPacket.Packet) => push(connId, p));
        parser.parse(Buffer.from((frame as { bytes: Buffer }).bytes));
      }
    }
  });
  const generate = (p: mqttPacket.Packet): Buffer => Buffer.from(mqttPacket.generate(p, { protocolVersion: 5 }));
  return {
    host,
    frames,
    open(connId, packet) {
      writeOpen(toHost.writer, {
        kind: 'open',
        connId,
        clientId: packet.clientId,
        clientIdAssigned: false,
        transport: { type: 'tcp', remoteAddress: '127.0.0.1', remotePort: 1 },
        packet: generate(packet),
      });
      toHost.commit();
    },
    packet(connId, packet) {
      writePacket(toHost.writer, connId, generate(packet));
      toHost.commit();
    },
    closed(connId) {
      writeClosed(toHost.writer, connId, { cause: 'connection-lost', reason: 'test' });
      toHost.commit();
    },
    deliver(message, targets) {
      writeDeliver(toHost.writer, message, targets, 0);
      toHost.commit();
    },
    next(connId, timeoutMs = 2_000) {
      const queued = queues.get(connId)?.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing sent to connection ${connId}`)), timeoutMs);
        waiters.set(connId, (p) => {
          clearTimeout(timer);
          resolve(p);
        });
      });
    },
    async stop() {
      await host.control.shutdown();
      toHost.close();
      routerSide.close();
    },
  };
}
