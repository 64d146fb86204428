/**
 * Hostile input, one table: a malformed or forbidden packet of every type a
 * client may send (and of the server-only types), under MQTT 3.1.1 and 5.0.
 * Every input is built by hand (test/hostile/wire.ts), and so is the check of
 * the answer: on 5.0 after CONNACK a DISCONNECT with the reason code the spec
 * asks for, then close; for a bad CONNECT on 5.0 a CONNACK with a failure code
 * then close, or a plain close; on 3.1.1 a plain close. After every row the
 * broker must still route a message between two mqtt.js clients, and its
 * worker must not have died. One broker for the file (workers: 1).
 * Cases already in test/conformance/12-malformed.test.ts and
 * test/integration/protocol-errors.test.ts are not repeated.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { closeClient, connectClient, nextMessage, uniqueTopic, type TestClient } from '../helpers/clients.js';
import { connectPacket, frames, hex, pkt, props, rid, str, Wire, type V } from './wire.js';

type Expect = { kind: 'close' } | { kind: 'disconnect'; code: number } | { kind: 'connack'; code: number };

interface Row {
  name: string;
  /** Sent as the first packet, without a CONNECT before it. */
  pre?: boolean;
  bytes: Buffer;
  /** The client half-closes its socket right after the bytes (a truncated packet that never completes). */
  end?: boolean;
  expect: Expect;
}

const CLOSE: Expect = { kind: 'close' };
const MALFORMED = 0x81,
  PROTOCOL = 0x82,
  TOPIC_INVALID = 0x90;
const FIVE_BYTE_LENGTH = [0xff, 0xff, 0xff, 0xff, 0x01];
const BAD_UTF8 = [0x61, 0xc3, 0x28]; // 'a', then a 2-byte lead followed by a non-continuation byte
const OVERLONG = [0x61, 0xc0, 0xaf]; // overlong encoding of '/'

function rows(v: V): Row[] {
  const five = v === 5;
  /** After CONNACK: 5.0 DISCONNECT `code` then close; 3.1.1 close. */
  const dis = (code: number): Expect => (five ? { kind: 'disconnect', code } : CLOSE);
  /** A bad CONNECT found by the worker: 5.0 CONNACK `code` then close; 3.1.1 close. */
  const refused = (code: number): Expect => (five ? { kind: 'connack', code } : CLOSE);
  const P = props(v);
  const r: Row[] = [];

  // --- Remaining Length longer than 4 bytes, per packet type (after CONNACK).
  for (const [type, first] of [
    ['PUBACK', 0x40],
    ['PUBREC', 0x50],
    ['PUBREL', 0x62],
    ['PUBCOMP', 0x70],
    ['SUBSCRIBE', 0x82],
    ['UNSUBSCRIBE', 0xa2],
    ['PINGREQ', 0xc0],
    ['DISCONNECT', 0xe0],
    ...(five ? [['AUTH', 0xf0]] : []),
  ] as Array<[string, number]>) {
    r.push({ name: `${type} with a 5-byte Remaining Length`, bytes: Buffer.from([first, ...FIVE_BYTE_LENGTH]), expect: dis(MALFORMED) });
  }
  r.push({ name: 'CONNECT with a 5-byte Remaining Length', pre: true, bytes: Buffer.from([0x10, ...FIVE_BYTE_LENGTH]), expect: CLOSE });

  // --- Reserved flags of the fixed header.
  r.push({
    name: 'CONNECT with fixed-header flags 0001',
    pre: true,
    bytes: (() => {
      const b = connectPacket(v, rid('f'));
      b[0] = 0x11;
      return b;
    })(),
    expect: refused(MALFORMED),
  });
  r.push({ name: 'PUBACK with flags 0001', bytes: pkt(0x41, [0, 1]), expect: dis(MALFORMED) });
  r.push({ name: 'PUBREC with flags 1000', bytes: pkt(0x58, [0, 1]), expect: dis(MALFORMED) });
  r.push({ name: 'PUBREL with flags 0011', bytes: pkt(0x63, [0, 1]), expect: dis(MALFORMED) });
  r.push({ name: 'PUBCOMP with flags 0010', bytes: pkt(0x72, [0, 1]), expect: dis(MALFORMED) });
  r.push({ name: 'SUBSCRIBE with flags 0011', bytes: pkt(0x83, [0, 1, ...P, ...str('a'), 0]), expect: dis(MALFORMED) });
  r.push({ name: 'UNSUBSCRIBE with flags 0110', bytes: pkt(0xa6, [0, 1, ...P, ...str('a')]), expect: dis(MALFORMED) });
  r.push({ name: 'PINGREQ with flags 0001', bytes: Buffer.from([0xc1, 0x00]), expect: dis(MALFORMED) });
  if (!five) r.push({ name: 'DISCONNECT with flags 0010', bytes: Buffer.from([0xe2, 0x00]), expect: CLOSE });
  r.push({
    name: 'SUBSCRIBE with reserved option bits 7-6 set',
    bytes: pkt(0x82, [0, 1, ...P, ...str('a'), 0xc0]),
    expect: dis(MALFORMED),
  });
  r.push({ name: 'SUBSCRIBE with QoS 3 requested', bytes: pkt(0x82, [0, 1, ...P, ...str('a'), 0x03]), expect: dis(MALFORMED) });

  // --- Invalid UTF-8 in a string field.
  r.push({ name: 'CONNECT whose client id is not valid UTF-8', pre: true, bytes: connectPacket(v, BAD_UTF8), expect: refused(MALFORMED) });
  r.push({
    name: 'CONNECT whose client id holds U+0000',
    pre: true,
    bytes: connectPacket(v, [0x61, 0x00, 0x62]),
    expect: refused(MALFORMED),
  });
  r.push({
    name: 'CONNECT whose will topic is not valid UTF-8',
    pre: true,
    bytes: connectPacket(v, rid('w'), { flags: 0x06, tail: [...props(v), ...str(OVERLONG), ...str('x')] }),
    expect: refused(MALFORMED),
  });
  r.push({
    name: 'CONNECT whose user name is not valid UTF-8',
    pre: true,
    bytes: connectPacket(v, rid('u'), { flags: 0x82, tail: str(BAD_UTF8) }),
    expect: refused(MALFORMED),
  });
  r.push({
    name: 'QoS 1 PUBLISH whose topic is an overlong encoding',
    bytes: pkt(0x32, [...str(OVERLONG), 0, 7, ...P, 0x78]),
    expect: dis(MALFORMED),
  });
  r.push({
    name: 'SUBSCRIBE whose filter is not valid UTF-8',
    bytes: pkt(0x82, [0, 2, ...P, ...str(BAD_UTF8), 0]),
    expect: dis(MALFORMED),
  });
  r.push({ name: 'UNSUBSCRIBE whose filter is not valid UTF-8', bytes: pkt(0xa2, [0, 3, ...P, ...str(OVERLONG)]), expect: dis(MALFORMED) });

  // --- Wildcards in a PUBLISH topic (QoS 0 '+' and '#' are covered elsewhere).
  r.push({ name: 'QoS 1 PUBLISH to a/+/b', bytes: pkt(0x32, [...str('a/+/b'), 0, 4, ...P, 0x78]), expect: dis(TOPIC_INVALID) });
  r.push({ name: 'QoS 2 PUBLISH to #', bytes: pkt(0x34, [...str('#'), 0, 5, ...P, 0x78]), expect: dis(TOPIC_INVALID) });

  // --- Packet identifier 0 (QoS 1 PUBLISH is covered elsewhere).
  r.push({ name: 'QoS 2 PUBLISH with packet id 0', bytes: pkt(0x34, [...str('a/b'), 0, 0, ...P, 0x78]), expect: dis(MALFORMED) });
  r.push({ name: 'SUBSCRIBE with packet id 0', bytes: pkt(0x82, [0, 0, ...P, ...str('a/b'), 0]), expect: dis(MALFORMED) });
  r.push({ name: 'UNSUBSCRIBE with packet id 0', bytes: pkt(0xa2, [0, 0, ...P, ...str('a/b')]), expect: dis(MALFORMED) });

  // --- Truncated: the Remaining Length promises more than is sent, then the socket ends.
  r.push({
    name: 'CONNECT cut short, then the socket ends',
    pre: true,
    end: true,
    bytes: connectPacket(v, rid('t')).subarray(0, 9),
    expect: CLOSE,
  });
  r.push({ name: 'PUBLISH cut short, then the socket ends', end: true, bytes: Buffer.from([0x30, 0x20, 0x00, 0x03, 0x61]), expect: CLOSE });
  r.push({ name: 'SUBSCRIBE cut short, then the socket ends', end: true, bytes: Buffer.from([0x82, 0x7f, 0x00, 0x01]), expect: CLOSE });
  r.push({
    name: 'fixed header cut inside the Remaining Length, then the socket ends',
    end: true,
    bytes: Buffer.from([0x30, 0xff, 0xff]),
    expect: CLOSE,
  });

  // --- Truncated: the Remaining Length is smaller than the fields need.
  r.push({
    name: 'CONNECT whose Remaining Length ends inside the protocol name',
    pre: true,
    bytes: Buffer.from([0x10, 0x04, 0x00, 0x04, 0x4d, 0x51]),
    expect: CLOSE,
  });
  r.push({
    name: 'CONNECT whose Remaining Length ends inside the client id',
    pre: true,
    bytes: (() => {
      const b = connectPacket(v, 'abcdef');
      b[1] = (b[1] as number) - 3;
      return b.subarray(0, b.length - 3);
    })(),
    expect: CLOSE,
  });
  r.push({ name: 'PUBLISH whose topic length runs past the packet', bytes: pkt(0x30, [0x00, 0x09, 0x61]), expect: dis(MALFORMED) });
  r.push({ name: 'QoS 1 PUBLISH without room for its packet id', bytes: pkt(0x32, [...str('a'), 0x00]), expect: dis(MALFORMED) });
  r.push({ name: 'PUBACK of 1 byte', bytes: pkt(0x40, [0x00]), expect: dis(MALFORMED) });
  r.push({ name: 'PUBREC of 0 bytes', bytes: pkt(0x50, []), expect: dis(MALFORMED) });
  r.push({ name: 'PUBREL of 1 byte', bytes: pkt(0x62, [0x00]), expect: dis(MALFORMED) });
  r.push({ name: 'PUBCOMP of 1 byte', bytes: pkt(0x70, [0x00]), expect: dis(MALFORMED) });
  r.push({ name: 'SUBSCRIBE cut inside its filter length', bytes: pkt(0x82, [0x00, 0x01, ...P, 0x00]), expect: dis(MALFORMED) });
  r.push({ name: 'SUBSCRIBE without its options byte', bytes: pkt(0x82, [0x00, 0x01, ...P, ...str('a')]), expect: dis(MALFORMED) });
  r.push({
    name: 'UNSUBSCRIBE whose filter length runs past the packet',
    bytes: pkt(0xa2, [0x00, 0x01, ...P, 0x00, 0x05, 0x61]),
    expect: dis(MALFORMED),
  });
  r.push({ name: 'PINGREQ with a 1-byte body', bytes: pkt(0xc0, [0x00]), expect: dis(MALFORMED) });
  if (five) {
    r.push({ name: 'PUBACK whose property length runs past the packet', bytes: pkt(0x40, [0, 1, 0, 0x05]), expect: dis(MALFORMED) });
    r.push({ name: 'DISCONNECT whose property length runs past the packet', bytes: pkt(0xe0, [0x00, 0x05]), expect: dis(MALFORMED) });
    r.push({ name: 'AUTH whose property length runs past the packet', bytes: pkt(0xf0, [0x18, 0x05, 0x15]), expect: dis(MALFORMED) });
  } else {
    r.push({ name: 'DISCONNECT with a 1-byte body', bytes: pkt(0xe0, [0x00]), expect: CLOSE });
  }

  // --- 5.0 properties: not allowed for the packet, or given twice.
  if (five) {
    const sessionExpiry = [0x11, 0, 0, 0, 10];
    const topicAlias = [0x23, 0, 1];
    const subId = [0x0b, 0x01];
    const reasonString = [0x1f, ...str('r')];
    const receiveMax = [0x21, 0, 10];
    const authMethod = [0x15, ...str('m')];
    r.push({
      name: 'CONNECT with a Topic Alias property',
      pre: true,
      bytes: connectPacket(5, rid('p'), { connectProps: topicAlias }),
      expect: refused(MALFORMED),
    });
    r.push({
      name: 'PUBLISH with a Session Expiry Interval property',
      bytes: pkt(0x30, [...str('a/b'), ...props(5, sessionExpiry), 0x78]),
      expect: dis(MALFORMED),
    });
    r.push({ name: 'PUBACK with a Topic Alias property', bytes: pkt(0x40, [0, 1, 0, ...props(5, topicAlias)]), expect: dis(MALFORMED) });
    r.push({
      name: 'PUBREL with a Subscription Identifier property',
      bytes: pkt(0x62, [0, 1, 0, ...props(5, subId)]),
      expect: dis(MALFORMED),
    });
    r.push({
      name: 'SUBSCRIBE with a Topic Alias property',
      bytes: pkt(0x82, [0, 1, ...props(5, topicAlias), ...str('a'), 0]),
      expect: dis(MALFORMED),
    });
    r.push({
      name: 'UNSUBSCRIBE with a Subscription Identifier property',
      bytes: pkt(0xa2, [0, 1, ...props(5, subId), ...str('a')]),
      expect: dis(MALFORMED),
    });
    r.push({ name: 'DISCONNECT with a Topic Alias property', bytes: pkt(0xe0, [0x00, ...props(5, topicAlias)]), expect: dis(MALFORMED) });
    r.push({
      name: 'AUTH with a Session Expiry Interval property',
      bytes: pkt(0xf0, [0x18, ...props(5, [...authMethod, ...sessionExpiry])]),
      expect: dis(MALFORMED),
    });
    r.push({
      name: 'CONNECT with Receive Maximum twice',
      pre: true,
      bytes: connectPacket(5, rid('d'), { connectProps: [...receiveMax, ...receiveMax] }),
      expect: refused(PROTOCOL),
    });
    r.push({
      name: 'PUBLISH with Message Expiry Interval twice',
      bytes: pkt(0x30, [...str('a/b'), ...props(5, [0x02, 0, 0, 0, 9, 0x02, 0, 0, 0, 9]), 0x78]),
      expect: dis(PROTOCOL),
    });
    r.push({
      name: 'PUBACK with Reason String twice',
      bytes: pkt(0x40, [0, 1, 0, ...props(5, [...reasonString, ...reasonString])]),
      expect: dis(PROTOCOL),
    });
    r.push({
      name: 'SUBSCRIBE with Subscription Identifier twice',
      bytes: pkt(0x82, [0, 1, ...props(5, [...subId, ...subId]), ...str('a'), 0]),
      expect: dis(PROTOCOL),
    });
    r.push({
      name: 'DISCONNECT with Session Expiry Interval twice',
      bytes: pkt(0xe0, [0x00, ...props(5, [0x11, 0, 0, 0, 0, 0x11, 0, 0, 0, 0])]),
      expect: dis(PROTOCOL),
    });
    r.push({
      name: 'AUTH with Authentication Method twice',
      bytes: pkt(0xf0, [0x18, ...props(5, [...authMethod, ...authMethod])]),
      expect: dis(PROTOCOL),
    });
  }

  // --- Server-only packet types from a client, reserved types, a second CONNECT.
  r.push({ name: 'CONNACK from a client', bytes: pkt(0x20, [0, 0, ...P]), expect: dis(PROTOCOL) });
  r.push({ name: 'SUBACK from a client', bytes: pkt(0x90, [0, 1, ...P, 0]), expect: dis(PROTOCOL) });
  r.push({ name: 'UNSUBACK from a client', bytes: pkt(0xb0, [0, 1, ...P, ...(five ? [0] : [])]), expect: dis(PROTOCOL) });
  r.push({ name: 'PINGRESP from a client', bytes: Buffer.from([0xd0, 0x00]), expect: dis(PROTOCOL) });
  r.push({ name: 'a second CONNECT', bytes: connectPacket(v, rid('s')), expect: dis(PROTOCOL) });
  if (!five) {
    r.push({ name: 'reserved type 15 (AUTH does not exist in 3.1.1)', bytes: Buffer.from([0xf0, 0x00]), expect: CLOSE });
    r.push({ name: 'reserved type 0 with a body', bytes: pkt(0x00, [0x00, 0x01]), expect: CLOSE });
    r.push({ name: 'reserved type 0 before CONNECT', pre: true, bytes: Buffer.from([0x00, 0x00]), expect: CLOSE });
    r.push({ name: 'reserved type 15 before CONNECT', pre: true, bytes: Buffer.from([0xf0, 0x00]), expect: CLOSE });
  }

  // --- A packet before CONNECT (PINGREQ is covered elsewhere).
  for (const [type, bytes] of [
    ['PUBLISH', pkt(0x30, [...str('a/b'), ...P, 0x78])],
    ['PUBACK', pkt(0x40, [0, 1])],
    ['PUBREC', pkt(0x50, [0, 1])],
    ['PUBREL', pkt(0x62, [0, 1])],
    ['PUBCOMP', pkt(0x70, [0, 1])],
    ['SUBSCRIBE', pkt(0x82, [0, 1, ...P, ...str('a'), 0])],
    ['UNSUBSCRIBE', pkt(0xa2, [0, 1, ...P, ...str('a')])],
    ['DISCONNECT', Buffer.from([0xe0, 0x00])],
    ['CONNACK', pkt(0x20, [0, 0, ...P])],
    ['SUBACK', pkt(0x90, [0, 1, ...P, 0])],
    ['PINGRESP', Buffer.from([0xd0, 0x00])],
    ...(five ? [['AUTH', pkt(0xf0, [0x18, ...props(5, [0x15, ...str('m')])])]] : []),
  ] as Array<[string, Buffer]>) {
    r.push({ name: `${type} before CONNECT`, pre: true, bytes, expect: CLOSE });
  }
  return r;
}

function describeExpect(e: Expect): string {
  if (e.kind === 'close') return 'a plain close';
  return `${e.kind.toUpperCase()} 0x${e.code.toString(16)} then close`;
}

const hostFailures: unknown[] = [];
const b = brokerForSuite(
  { workers: 1 },
  {
    closeClientsAfterEach: false,
    onStarted: (started) => started.broker.on('host-failed', (index: number, err: unknown) => hostFailures.push({ index, err })),
  },
);

/** Runs one row on a fresh connection and asserts the answer byte by byte. */
async function runRow(v: V, row: Row): Promise<void> {
  const wire = await Wire.open(b.port);
  try {
    const start = row.pre ? 0 : await wire.handshake(v);
    wire.send(row.bytes);
    if (row.end) wire.socket.end();
    await wire.closedWithin(3_000);
    const after = wire.bytes.subarray(start);
    const { frames: got, rest } = frames(after);
    const seen = `server sent after ${row.pre ? 'connect' : 'CONNACK'}: [${hex(after)}]`;
    assert.equal(rest, 0, `a partial frame: ${seen}`);
    switch (row.expect.kind) {
      case 'close':
        assert.equal(got.length, 0, `expected a plain close; ${seen}`);
        return;
      case 'disconnect': {
        assert.equal(got.length, 1, `expected one DISCONNECT; ${seen}`);
        const f = got[0]!;
        assert.equal(f.first, 0xe0, `expected DISCONNECT; ${seen}`);
        assert.equal(f.body[0], row.expect.code, `expected reason 0x${row.expect.code.toString(16)}; ${seen}`);
        return;
      }
      case 'connack': {
        // 5.0 allows a CONNACK with a failure code before the close, or none [MQTT-4.13.1-1].
        if (got.length === 0) return;
        assert.equal(got.length, 1, `expected at most one CONNACK; ${seen}`);
        const f = got[0]!;
        assert.equal(f.first, 0x20, `expected CONNACK; ${seen}`);
        assert.equal(f.body[1], row.expect.code, `expected CONNACK 0x${row.expect.code.toString(16)}; ${seen}`);
        return;
      }
    }
  } finally {
    wire.destroy();
  }
}

for (const v of [4, 5] as const) {
  describe(`hostile input table (MQTT ${v === 5 ? '5.0' : '3.1.1'})`, () => {
    let sub: TestClient;
    let pub: TestClient;
    const topic = uniqueTopic('live');
    before(async () => {
      sub = await connectClient(b.port, { version: v });
      await sub.subscribeAsync(topic, { qos: 1 });
      pub = await connectClient(b.port, { version: v });
    });
    after(async () => {
      await closeClient(sub);
      await closeClient(pub);
    });

    let n = 0;
    for (const row of rows(v)) {
      const i = ++n;
      test(`#${i} ${row.name} → ${describeExpect(row.expect)}`, async () => {
        await runRow(v, row);
        // The broker still routes: a fresh CONNECT works (next row) and a message goes through.
        await pub.publishAsync(topic, `row ${i}`, { qos: 1 });
        const m = await nextMessage(sub, (x) => x.payload.toString() === `row ${i}`, 3_000);
        assert.equal(m.topic, topic);
        assert.deepEqual(hostFailures, [], 'no actor host failed');
      });
    }

    test('after the table a new mqtt.js client works and no connection is left behind', async () => {
      const c = await connectClient(b.port, { version: v });
      const t = uniqueTopic('end');
      await c.subscribeAsync(t, { qos: 1 });
      await c.publishAsync(t, 'end', { qos: 1 });
      await nextMessage(c, () => true, 3_000);
      await closeClient(c);
      const stats = await b.broker.stats();
      // sub and pub stay connected; c may still be closing.
      assert.ok(stats.connections <= 3, `connections left: ${stats.connections}`);
      assert.deepEqual(hostFailures, []);
    });
  });
}
