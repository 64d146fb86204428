/**
 * Enhanced authentication (spec 4.12) through a real ActorHost with an
 * Authenticator: the host is driven with the binary frames the main thread
 * would send (open, packet, closed) over an in-thread endpoint pair, and the
 * packets it answers are decoded with mqtt-packet. The socket-level paths
 * without an authenticator are in test/conformance/01-connect.test.ts; the
 * broker's authenticator is the plugins' on_auth_m5 (test/hooks/connect.test.ts).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { startFrameHost, type FrameHost } from '../helpers/frame-host.js';
import type { AuthExchange, Authenticator, AuthRequest, AuthStep } from '../../workers/connect/authenticator.js';

const METHOD = 'TOKEN';

/**
 * Accepts CONNECT/AUTH data 'hello', answers 'challenge', then accepts
 * 'response' with 'welcome'. Throws on 'boom'. While `gate` is set, every step
 * answers with a promise that settles after it (rejects on 'boom').
 */
class TokenAuthenticator implements Authenticator {
  readonly requests: AuthRequest[] = [];
  gate: Promise<void> | undefined;
  start(request: AuthRequest): AuthExchange | undefined {
    if (request.method !== METHOD) return undefined;
    this.requests.push(request);
    let step = 0;
    const decide = (text: string | undefined): AuthStep => {
      if (text === 'boom') throw new Error('authenticator bug');
      if (step++ === 0 && text === 'hello') return { outcome: 'continue', data: Buffer.from('challenge') };
      if (step === 2 && text === 'response') return { outcome: 'success', data: Buffer.from('welcome') };
      return { outcome: 'failure', reasonString: 'wrong token' };
    };
    return {
      step: (data) => (this.gate ? this.gate.then(() => decide(data?.toString())) : decide(data?.toString())),
    };
  }
}

/** A gate the test opens: steps asked meanwhile answer once it is open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

let h: FrameHost & { authenticator: TokenAuthenticator };

beforeEach(() => {
  const authenticator = new TokenAuthenticator();
  h = { ...startFrameHost({ authenticator }), authenticator };
});

afterEach(() => h.stop());

function connect(clientId: string, method: string | undefined, data?: string): mqttPacket.IConnectPacket {
  const properties: mqttPacket.IConnectPacket['properties'] = {};
  if (method !== undefined) properties.authenticationMethod = method;
  if (data !== undefined) properties.authenticationData = Buffer.from(data);
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 0, properties };
}

function auth(reasonCode: number, method: string, data?: string): mqttPacket.IAuthPacket {
  const properties: NonNullable<mqttPacket.IAuthPacket['properties']> = { authenticationMethod: method };
  if (data !== undefined) properties.authenticationData = Buffer.from(data);
  return { cmd: 'auth', reasonCode, properties };
}

async function expectPacket<C extends mqttPacket.PacketCmd>(connId: number, cmd: C): Promise<Extract<mqttPacket.Packet, { cmd: C }>> {
  const p = await h.next(connId);
  assert.notEqual(p, 'end', `expected ${cmd}, the connection was ended`);
  assert.equal((p as mqttPacket.Packet).cmd, cmd);
  return p as Extract<mqttPacket.Packet, { cmd: C }>;
}

/** Runs the whole CONNECT exchange on `connId` and checks the CONNACK. */
async function authenticate(connId: number, clientId: string): Promise<void> {
  h.open(connId, connect(clientId, METHOD, 'hello'));
  const challenge = await expectPacket(connId, 'auth');
  assert.equal(challenge.reasonCode, 0x18, '[MQTT-4.12.0-2] AUTH 0x18 continues');
  assert.equal(challenge.properties?.authenticationMethod, METHOD);
  assert.equal(challenge.properties?.authenticationData?.toString(), 'challenge');
  h.packet(connId, auth(0x18, METHOD, 'response'));
  const connack = await expectPacket(connId, 'connack');
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.properties?.authenticationMethod, METHOD, '[MQTT-4.12.0-5] CONNACK carries the method');
  assert.equal(connack.properties?.authenticationData?.toString(), 'welcome');
}

describe('enhanced authentication with an Authenticator', () => {
  test('[MQTT-4.12.0-2] [MQTT-4.12.0-3] [MQTT-4.12.0-5] CONNECT, AUTH 0x18 challenge, AUTH 0x18 response, CONNACK 0x00 with the method', async () => {
    await authenticate(1, 'a1');
    assert.deepEqual(
      h.authenticator.requests.map((r) => [r.method, r.clientId, r.reauthentication]),
      [[METHOD, 'a1', false]],
    );
    h.packet(1, { cmd: 'pingreq' });
    await expectPacket(1, 'pingresp');
  });

  test('[MQTT-4.12.0-4] a failed exchange gets CONNACK 0x87 with a Reason String, and a close', async () => {
    h.open(2, connect('a2', METHOD, 'hello'));
    await expectPacket(2, 'auth');
    h.packet(2, auth(0x18, METHOD, 'wrong'));
    const connack = await expectPacket(2, 'connack');
    assert.equal(connack.reasonCode, 0x87);
    assert.equal(connack.properties?.reasonString, 'wrong token');
    assert.equal(await h.next(2), 'end');
  });

  test('[MQTT-4.12.0-1] a method the Authenticator does not support gets CONNACK 0x8C', async () => {
    h.open(3, connect('a3', 'KERBEROS', 'x'));
    assert.equal((await expectPacket(3, 'connack')).reasonCode, 0x8c);
    assert.equal(await h.next(3), 'end');
  });

  test('[MQTT-3.1.2-30] a packet other than AUTH or DISCONNECT before CONNACK gets CONNACK 0x82', async () => {
    h.open(4, connect('a4', METHOD, 'hello'));
    await expectPacket(4, 'auth');
    h.packet(4, { cmd: 'pingreq' });
    assert.equal((await expectPacket(4, 'connack')).reasonCode, 0x82);
    assert.equal(await h.next(4), 'end');
  });

  test('[MQTT-4.12.0-5] an AUTH with another method during the exchange gets CONNACK 0x82', async () => {
    h.open(5, connect('a5', METHOD, 'hello'));
    await expectPacket(5, 'auth');
    h.packet(5, auth(0x18, 'OTHER', 'response'));
    assert.equal((await expectPacket(5, 'connack')).reasonCode, 0x82);
  });

  test('a DISCONNECT during the exchange ends it without CONNACK; an authenticator that throws gets CONNACK 0x80', async () => {
    h.open(6, connect('a6', METHOD, 'hello'));
    await expectPacket(6, 'auth');
    h.packet(6, { cmd: 'disconnect', reasonCode: 0 });
    assert.equal(await h.next(6), 'end');
    h.open(7, connect('a7', METHOD, 'boom'));
    assert.equal((await expectPacket(7, 'connack')).reasonCode, 0x80);
  });

  test('a connection that closes during the exchange is forgotten', async () => {
    h.open(8, connect('a8', METHOD, 'hello'));
    await expectPacket(8, 'auth');
    h.closed(8);
    h.packet(8, auth(0x18, METHOD, 'response'));
    await assert.rejects(h.next(8, 300), /nothing sent/);
  });

  test('[MQTT-4.12.1-1] re-authentication: AUTH 0x19 with the same method, a challenge, then AUTH 0x00; the session goes on', async () => {
    await authenticate(9, 'a9');
    h.packet(9, auth(0x19, METHOD, 'hello'));
    assert.equal((await expectPacket(9, 'auth')).reasonCode, 0x18);
    h.packet(9, auth(0x18, METHOD, 'response'));
    const done = await expectPacket(9, 'auth');
    assert.equal(done.reasonCode, 0x00);
    assert.equal(done.properties?.authenticationData?.toString(), 'welcome');
    assert.equal(h.authenticator.requests.at(-1)?.reauthentication, true);
    h.packet(9, { cmd: 'pingreq' });
    await expectPacket(9, 'pingresp');
  });

  test('[MQTT-4.12.1-1] re-authentication with another method is a DISCONNECT 0x82', async () => {
    await authenticate(10, 'a10');
    h.packet(10, auth(0x19, 'OTHER', 'hello'));
    assert.equal((await expectPacket(10, 'disconnect')).reasonCode, 0x82);
    assert.equal(await h.next(10), 'end');
  });

  test('[MQTT-4.12.1-2] a failed re-authentication is a DISCONNECT with its reason code', async () => {
    await authenticate(11, 'a11');
    h.packet(11, auth(0x19, METHOD, 'not-hello'));
    const disconnect = await expectPacket(11, 'disconnect');
    assert.equal(disconnect.reasonCode, 0x87);
    assert.equal(disconnect.properties?.reasonString, 'wrong token');
  });

  test('AUTH 0x18 with no re-authentication in progress is a DISCONNECT 0x82', async () => {
    await authenticate(12, 'a12');
    h.packet(12, auth(0x18, METHOD, 'response'));
    assert.equal((await expectPacket(12, 'disconnect')).reasonCode, 0x82);
  });
});

describe('enhanced authentication with an Authenticator answering with promises', () => {
  test('[MQTT-4.12.0-2] [MQTT-4.12.0-5] each step is decided when its promise settles: challenge, then CONNACK 0x00 with the method', async () => {
    h.authenticator.gate = Promise.resolve();
    await authenticate(20, 'p20');
    h.packet(20, { cmd: 'pingreq' });
    await expectPacket(20, 'pingresp');
  });

  test('[MQTT-3.1.2-30] a packet other than DISCONNECT while a step is decided gets CONNACK 0x82; the late answer sends nothing', async () => {
    const g = gate();
    h.authenticator.gate = g.promise;
    h.open(21, connect('p21', METHOD, 'hello'));
    h.packet(21, auth(0x18, METHOD, 'response'));
    assert.equal((await expectPacket(21, 'connack')).reasonCode, 0x82);
    assert.equal(await h.next(21), 'end');
    g.open();
    await assert.rejects(h.next(21, 300), /nothing sent/);
  });

  test('a connection that closes while a step is decided gets nothing', async () => {
    const g = gate();
    h.authenticator.gate = g.promise;
    h.open(22, connect('p22', METHOD, 'hello'));
    h.closed(22);
    g.open();
    await assert.rejects(h.next(22, 300), /nothing sent/);
  });

  test('a promise that rejects fails the step with CONNACK 0x80', async () => {
    h.authenticator.gate = Promise.resolve();
    h.open(23, connect('p23', METHOD, 'boom'));
    assert.equal((await expectPacket(23, 'connack')).reasonCode, 0x80);
    assert.equal(await h.next(23), 'end');
  });

  test('[MQTT-4.12.1-1] re-authentication: the session serves other packets while a step is decided, then answers AUTH', async () => {
    await authenticate(24, 'p24');
    const g = gate();
    h.authenticator.gate = g.promise;
    h.packet(24, auth(0x19, METHOD, 'hello'));
    h.packet(24, { cmd: 'pingreq' });
    await expectPacket(24, 'pingresp');
    g.open();
    assert.equal((await expectPacket(24, 'auth')).reasonCode, 0x18);
    h.packet(24, auth(0x18, METHOD, 'response'));
    const done = await expectPacket(24, 'auth');
    assert.equal(done.reasonCode, 0x00);
    assert.equal(done.properties?.authenticationData?.toString(), 'welcome');
  });

  test('a second AUTH while a re-authentication step is decided is a DISCONNECT 0x82; the late answer sends nothing', async () => {
    await authenticate(25, 'p25');
    const g = gate();
    h.authenticator.gate = g.promise;
    h.packet(25, auth(0x19, METHOD, 'hello'));
    h.packet(25, auth(0x18, METHOD, 'response'));
    assert.equal((await expectPacket(25, 'disconnect')).reasonCode, 0x82);
    assert.equal(await h.next(25), 'end');
    g.open();
    await assert.rejects(h.next(25, 300), /nothing sent/);
  });

  test('[MQTT-4.12.1-2] a re-authentication refused later is a DISCONNECT with its reason code', async () => {
    await authenticate(26, 'p26');
    h.authenticator.gate = Promise.resolve();
    h.packet(26, auth(0x19, METHOD, 'not-hello'));
    const disconnect = await expectPacket(26, 'disconnect');
    assert.equal(disconnect.reasonCode, 0x87);
    assert.equal(disconnect.properties?.reasonString, 'wrong token');
  });
});
