/**
 * Integration: the connection log lines of the main thread, read from the
 * application's own pino logger (createBroker({ logger })) over real
 * sockets: `client connected` with the client's fields, `client refused`
 * with the code the client got (a client id too long, auth_on_register
 * refusing, a 3.1.1 CONNECT closed without CONNACK), and `client
 * disconnected` with each cause: client-disconnect, keepalive, takeover,
 * protocol-error, server-disconnect, connection-lost and server-shutdown.
 * MQTT 3.1.1 and 5.0, sessions on the main thread (workers 0) and in a
 * worker (workers 1).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { pino } from 'pino';
import type { IConnackPacket } from 'mqtt-packet';
import type { Plugin } from '../../src/api/hooks.js';
import { brokerForSuite, startBroker } from '../helpers/broker.js';
import {
  closeClient,
  connectClient,
  dropConnection,
  once,
  persistent,
  uniqueId,
  VERSIONS,
  type TestClient,
  type Version,
} from '../helpers/clients.js';
import { LogCapture, type LogRecord } from '../helpers/log-capture.js';
import { RawClient } from '../helpers/raw-client.js';
import { label } from '../helpers/spec.js';

/** auth_on_register(_m5): user `wrong` has bad credentials, user `mallory` is not authorized, anyone else is welcome. */
const gatekeeper: Plugin = {
  auth_on_register: (_peer, _sid, username) => answerFor(username),
  auth_on_register_m5: (_peer, _sid, username) => answerFor(username),
};

function answerFor(username: string | undefined): 'ok' | { error: string } {
  if (username === 'wrong') return { error: 'invalid_credentials' };
  if (username === 'mallory') return { error: 'banned_user' };
  return 'ok';
}

function connackCode(version: Version, connack: IConnackPacket): number | undefined {
  return version === 5 ? connack.reasonCode : connack.returnCode;
}

function localPort(client: TestClient): number | undefined {
  return (client.stream as net.Socket).localPort;
}

/** A disconnected line: its cause and the fields every connection line has. */
async function expectDisconnected(capture: LogCapture, clientId: string, cause: string, pool = ''): Promise<LogRecord> {
  const line = await capture.line('client disconnected', clientId);
  assert.equal(line['cause'], cause);
  assert.equal(line['level'], 30, 'info');
  assert.equal(line['pool'], pool);
  assert.equal(line['transport'], 'tcp');
  assert.equal(line['remoteAddress'], '127.0.0.1');
  assert.equal(typeof line['remotePort'], 'number');
  assert.equal(typeof line['reason'], 'string');
  return line;
}

for (const workers of [0, 1]) {
  describe(`connection log lines (workers ${workers})`, () => {
    const capture = new LogCapture();
    const b = brokerForSuite(
      { workers, maxClientIdLength: 23, maxIncomingPacketSize: 1024, logger: pino({ level: 'info' }, capture) },
      { plugins: [gatekeeper] },
    );

    for (const version of VERSIONS) {
      describe(label(version), () => {
        test('client connected: client id, username, pool, protocol version, transport, address, session present', async () => {
          const clientId = uniqueId('log-up');
          const first = await connectClient(b.port, { version, clientId, username: 'alice', ...persistent(version) });
          const line = await capture.line('client connected', clientId);
          assert.equal(line['level'], 30, 'info');
          assert.equal(line['thread'], 'main', 'a child of the application logger');
          assert.equal(line['username'], 'alice');
          assert.equal(line['pool'], '');
          assert.equal(line['protocolVersion'], version);
          assert.equal(line['transport'], 'tcp');
          assert.equal(line['remoteAddress'], '127.0.0.1');
          assert.equal(line['remotePort'], localPort(first));
          assert.equal(line['sessionPresent'], false);
          await closeClient(first);
          await expectDisconnected(capture, clientId, 'client-disconnect');
          capture.records.length = 0;
          const again = await connectClient(b.port, { version, clientId, username: 'alice', ...persistent(version) });
          const back = await capture.line('client connected', clientId);
          assert.equal(back['sessionPresent'], true);
          await closeClient(again);
        });

        test('client refused: a client id too long, with the CONNACK code', async () => {
          const clientId = uniqueId('log-much-too-long-client-id');
          const raw = await RawClient.connect(b.port, version);
          const connack = await raw.handshake({ clientId, username: 'bob' });
          const expected = version === 5 ? 0x85 : 2;
          assert.equal(connackCode(version, connack), expected);
          const line = await capture.line('client refused', clientId);
          assert.equal(line['level'], 30, 'info');
          assert.equal(line['reasonCode'], expected);
          assert.equal(line['username'], 'bob');
          assert.equal(line['transport'], 'tcp');
          assert.equal(line['remoteAddress'], '127.0.0.1');
          assert.equal(line['remotePort'], raw.socket.localPort);
          assert.match(String(line['reason']), /client id longer than 23/);
        });

        test(`client refused: auth_on_register refusing (${version === 5 ? '0x86, 0x87' : '4, 5'})`, async () => {
          for (const [username, expected] of [
            ['wrong', version === 5 ? 0x86 : 4],
            ['mallory', version === 5 ? 0x87 : 5],
          ] as const) {
            const clientId = uniqueId('log-deny');
            const raw = await RawClient.connect(b.port, version);
            assert.equal(connackCode(version, await raw.handshake({ clientId, username, password: Buffer.from('x') })), expected);
            const line = await capture.line('client refused', clientId);
            assert.equal(line['reasonCode'], expected);
            assert.equal(line['username'], username);
            assert.equal(typeof line['reason'], 'string');
          }
        });

        test(`client refused: a will topic with a wildcard (${version === 5 ? 'CONNACK 0x90' : 'closed without CONNACK, 0x81'})`, async () => {
          const clientId = uniqueId('log-will');
          const raw = await RawClient.connect(b.port, version);
          const will = { topic: 'will/+', payload: Buffer.from('x'), qos: 0, retain: false } as const;
          // 3.1.1 gets no CONNACK: the handshake fails when the connection closes.
          const connack = await raw.handshake({ clientId, will }).catch(() => undefined);
          await raw.expectClose();
          const line = await capture.line('client refused', clientId);
          if (version === 5) {
            assert.equal(connack?.reasonCode, 0x90);
            assert.equal(line['reasonCode'], 0x90);
          } else {
            assert.equal(connack, undefined, 'no CONNACK');
            assert.equal(line['reasonCode'], 0x81);
          }
          assert.equal(line['reason'], 'invalid will topic');
        });

        test('client disconnected: keepalive (a client that stops sending)', async () => {
          const clientId = uniqueId('log-ka');
          const raw = await RawClient.connect(b.port, version);
          await raw.handshake({ clientId, keepalive: 1 });
          const port = raw.socket.localPort;
          const line = await expectDisconnected(capture, clientId, 'keepalive');
          assert.equal(line['remotePort'], port);
          await raw.expectClose();
        });

        test('client disconnected: takeover (another connection with the same client id)', async () => {
          const clientId = uniqueId('log-take');
          const first = await connectClient(b.port, { version, clientId });
          const port = localPort(first);
          await connectClient(b.port, { version, clientId });
          const line = await expectDisconnected(capture, clientId, 'takeover');
          assert.equal(line['remotePort'], port, 'the connection taken over');
        });

        test('client disconnected: protocol-error (a second CONNECT; a packet over maxIncomingPacketSize)', async () => {
          // No CONNACK answers it: the handshake fails when the connection closes.
          const secondConnect = (raw: RawClient, clientId: string): void => void raw.handshake({ clientId }).catch(() => undefined);
          // A PUBLISH whose fixed header announces 16383 bytes: cut by the main thread's framer.
          const oversized = (raw: RawClient): void => raw.sendBytes(Buffer.from([0x30, 0xff, 0x7f]));
          for (const [how, breakProtocol] of [
            ['second CONNECT', secondConnect],
            ['oversized', oversized],
          ] as const) {
            const clientId = uniqueId('log-proto');
            const raw = await RawClient.connect(b.port, version);
            await raw.handshake({ clientId, username: 'carol' });
            breakProtocol(raw, clientId);
            const line = await expectDisconnected(capture, clientId, 'protocol-error');
            assert.equal(line['username'], 'carol', how);
            await raw.expectClose();
          }
        });

        test('client disconnected: server-disconnect (broker.disconnectClient)', async () => {
          const clientId = uniqueId('log-kick');
          await connectClient(b.port, { version, clientId });
          assert.equal(await b.broker.disconnectClient(clientId, { reasonString: 'maintenance' }), true);
          const line = await expectDisconnected(capture, clientId, 'server-disconnect');
          assert.match(String(line['reason']), /0x98: maintenance/);
        });

        test('client disconnected: connection-lost (the socket destroyed)', async () => {
          const clientId = uniqueId('log-lost');
          const client = await connectClient(b.port, { version, clientId });
          dropConnection(client);
          const line = await expectDisconnected(capture, clientId, 'connection-lost');
          assert.equal('username' in line, false, 'no username when the client gave none');
        });

        test('client disconnected: server-shutdown (broker.close())', async () => {
          const own = new LogCapture();
          const broker = await startBroker({ workers, logger: pino({ level: 'info' }, own) });
          const clientId = uniqueId('log-bye');
          try {
            const client = await connectClient(broker.port, { version, clientId });
            await own.line('client connected', clientId);
            const closed = once(client, 'close');
            await broker.close();
            await closed;
            await expectDisconnected(own, clientId, 'server-shutdown');
            assert.ok(
              own.records.some((r) => r['msg'] === 'closed' && r['thread'] === 'main'),
              "the broker's own main-thread lines go to the application logger too",
            );
          } finally {
            await broker.close();
          }
        });
      });
    }
  });
}
