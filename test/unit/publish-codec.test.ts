/**
 * Unit tests for the hand-written PUBLISH and ack codec (src/shared/codec/publish.ts):
 * byte-for-byte equality with mqtt-packet, decoding of its output, every
 * protocol error with its spec id, and seeded randomized round trips.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { QoS } from '../../src/shared/message/app-message.js';
import { ProtocolError } from '../../src/shared/codec/protocol-error.js';
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import {
  decodePublish,
  encodeAck,
  encodedPublishLength,
  encodePublish,
  type AckCmd,
  type EncodablePublish,
  type PublishProperties,
} from '../../src/shared/codec/publish.js';
import { seededRandom } from '../helpers/random.js';

function isProtocolError(code: number) {
  return (error: unknown) => error instanceof ProtocolError && error.reasonCode === code;
}

function generate(p: EncodablePublish, protocolVersion: number): Buffer {
  const packet: mqttPacket.IPublishPacket = { cmd: 'publish', ...p };
  return mqttPacket.generate(packet, { protocolVersion });
}

/** Parses one whole packet with mqtt-packet. */
function parse(buf: Buffer, protocolVersion: number): mqttPacket.IPublishPacket {
  let result: mqttPacket.Packet | undefined;
  const parser = mqttPacket.parser({ protocolVersion });
  parser.on('packet', (packet) => {
    result = packet;
  });
  parser.on('error', (error) => {
    throw error;
  });
  parser.parse(buf);
  assert.equal(result?.cmd, 'publish');
  return result as mqttPacket.IPublishPacket;
}

const topics = ['a', 'sensor/123/temp', 'héllo/wörld/€/𝄞/日本語', `long/${'x'.repeat(300)}`];
const payloads = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(200, 0xab), Buffer.alloc(70 * 1024, 0xcd)];
const propertySets: PublishProperties[] = [
  { payloadFormatIndicator: true },
  { messageExpiryInterval: 3600, contentType: 'application/json', responseTopic: 'reply/to/me' },
  { topicAlias: 7, correlationData: Buffer.from([1, 2, 3, 4]) },
  { userProperties: { a: 'b', multi: ['x', 'yé'] } },
  { subscriptionIdentifier: [1, 300, 268_435_455] },
  { subscriptionIdentifier: 20_000, payloadFormatIndicator: false, messageExpiryInterval: 0 },
];

function* publishTable(): Generator<EncodablePublish> {
  for (const qos of [0, 1, 2] as const) {
    for (const retain of [false, true]) {
      for (const dup of qos === 0 ? [false] : [false, true]) {
        for (const topic of topics) {
          for (const payload of payloads) {
            const p: EncodablePublish = { topic, payload, qos, retain, dup };
            if (qos > 0) p.messageId = 0xbeef;
            yield p;
          }
        }
      }
    }
  }
}

describe('encodePublish', () => {
  for (const version of [4, 5]) {
    it(`matches mqtt-packet byte for byte on v${version} (qos, retain, dup, topics, payloads)`, () => {
      let cases = 0;
      for (const p of publishTable()) {
        const expected = generate(p, version);
        assert.deepEqual(encodePublish(p, version), expected, JSON.stringify({ ...p, payload: p.payload.length }));
        assert.equal(encodedPublishLength(p, version), expected.length);
        cases++;
      }
      assert.equal(cases, 5 * 2 * topics.length * payloads.length);
    });
  }

  it('matches mqtt-packet on v5 with properties, and computes their length', () => {
    for (const properties of propertySets) {
      for (const payload of payloads) {
        const p: EncodablePublish = { topic: 'sensor/123/temp', payload, qos: 1, retain: true, dup: false, messageId: 9, properties };
        const expected = generate(p, 5);
        assert.deepEqual(encodePublish(p, 5), expected, JSON.stringify(properties));
        assert.equal(encodedPublishLength(p, 5), expected.length, JSON.stringify(properties));
      }
    }
  });

  it('writes an empty property section for properties with no defined value', () => {
    const p: EncodablePublish = {
      topic: 't',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: undefined },
    };
    assert.deepEqual(encodePublish(p, 5), generate({ ...p, properties: {} }, 5));
    assert.equal(encodedPublishLength(p, 5), encodePublish(p, 5).length);
  });

  it('matches mqtt-packet with a Topic Alias alone (the hand-written path), with and without a topic', () => {
    for (const topic of ['', 'a/b']) {
      for (const qos of [0, 1] as const) {
        const p: EncodablePublish = { topic, payload: Buffer.from('xyz'), qos, retain: false, dup: false, properties: { topicAlias: 513 } };
        if (qos > 0) p.messageId = 7;
        assert.deepEqual(encodePublish(p, 5), generate(p, 5));
        assert.equal(encodedPublishLength(p, 5), generate(p, 5).length);
      }
    }
  });

  it('ignores properties on 3.1.1, as mqtt-packet does', () => {
    const p: EncodablePublish = {
      topic: 't',
      payload: Buffer.from('x'),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
      properties: { topicAlias: 1 },
    };
    assert.deepEqual(encodePublish(p, 4), generate(p, 4));
    assert.equal(encodedPublishLength(p, 4), generate(p, 4).length);
  });

  it('refuses QoS > 0 without a messageId', () => {
    assert.throws(() => encodePublish({ topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false, dup: false }, 4));
  });
});

describe('decodePublish', () => {
  for (const version of [4, 5]) {
    it(`decodes mqtt-packet output on v${version}`, () => {
      for (const p of publishTable()) {
        const packet = generate(p, version);
        const decoded = decodePublish(packet, version);
        assert.deepEqual({ ...decoded, payload: Buffer.from(decoded.payload) }, p);
        assert.equal(decoded.payload.buffer, packet.buffer, 'payload is a subarray of the packet');
        assert.equal('properties' in decoded, false);
      }
    });
  }

  it('decodes v5 properties as mqtt-packet parses them', () => {
    for (const properties of propertySets) {
      const p: EncodablePublish = {
        topic: 'x/y',
        payload: Buffer.from('data'),
        qos: 2,
        retain: false,
        dup: true,
        messageId: 65535,
        properties,
      };
      const packet = generate(p, 5);
      const decoded = decodePublish(packet, 5);
      assert.deepEqual(decoded.properties, parse(packet, 5).properties);
      assert.deepEqual(decoded.payload, p.payload);
      assert.equal(decoded.topic, 'x/y');
      assert.equal(decoded.messageId, 65535);
    }
  });

  it('returns an empty topic on v5 for the caller to resolve with its Topic Alias', () => {
    const packet = generate({ topic: '', payload: Buffer.from('p'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } }, 5);
    const decoded = decodePublish(packet, 5);
    assert.equal(decoded.topic, '');
    assert.equal(decoded.properties?.topicAlias, 3);
    assert.equal(decodePublish(generate({ topic: '', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 5), 5).topic, '');
  });

  it('rejects an empty topic on 3.1.1 [MQTT-4.7.3-1] with ProtocolError', () => {
    const packet = generate({ topic: '', payload: Buffer.from('p'), qos: 0, retain: false, dup: false }, 4);
    assert.throws(() => decodePublish(packet, 4), isProtocolError(ReasonCode.ProtocolError));
  });

  it('rejects QoS 3 [MQTT-3.3.1-4] with MalformedPacket', () => {
    const packet = generate({ topic: 't', payload: Buffer.from('p'), qos: 1, messageId: 1, retain: false, dup: false }, 4);
    packet[0] = 0x36;
    assert.throws(() => decodePublish(packet, 4), isProtocolError(ReasonCode.MalformedPacket));
  });

  it('rejects DUP set at QoS 0 [MQTT-3.3.1-2] with MalformedPacket', () => {
    const packet = generate({ topic: 't', payload: Buffer.from('p'), qos: 0, retain: false, dup: true }, 5);
    assert.equal(packet[0], 0x38);
    assert.throws(() => decodePublish(packet, 5), isProtocolError(ReasonCode.MalformedPacket));
  });

  for (const topic of ['a/+/b', 'a/#', '+', '#', 'x+y']) {
    it(`rejects the wildcard topic '${topic}' [MQTT-3.3.2-2] with TopicNameInvalid`, () => {
      for (const version of [4, 5]) {
        const packet = generate({ topic, payload: Buffer.from('p'), qos: 0, retain: false, dup: false }, version);
        assert.throws(() => decodePublish(packet, version), isProtocolError(ReasonCode.TopicNameInvalid));
      }
    });
  }

  it('rejects packet identifier 0 at QoS > 0 [MQTT-2.2.1-3] with MalformedPacket', () => {
    for (const qos of [1, 2] as const) {
      const packet = generate({ topic: 't', payload: Buffer.from('p'), qos, messageId: 0, retain: false, dup: false }, 4);
      assert.throws(() => decodePublish(packet, 4), isProtocolError(ReasonCode.MalformedPacket));
    }
  });

  it('rejects a topic that is not valid UTF-8 [MQTT-1.5.4-1] with MalformedPacket', () => {
    const invalid = [[0xc3], [0xff], [0xed, 0xa0, 0x80] /* UTF-16 surrogate */, [0xc0, 0xaf] /* overlong */];
    for (const bytes of invalid) {
      const topic = Buffer.from([0x61, 0x2f, ...bytes]);
      const packet = Buffer.from([0x30, 2 + topic.length + 1, 0, topic.length, ...topic, 0x21]);
      assert.throws(() => decodePublish(packet, 4), isProtocolError(ReasonCode.MalformedPacket), JSON.stringify(bytes));
    }
  });

  it('rejects a topic holding U+0000 [MQTT-1.5.4-2] with MalformedPacket', () => {
    const packet = generate({ topic: 'a\u0000b', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 4);
    assert.throws(() => decodePublish(packet, 4), isProtocolError(ReasonCode.MalformedPacket));
  });

  it('rejects every truncation with MalformedPacket', () => {
    for (const version of [4, 5]) {
      const packet = generate(
        {
          topic: 'sensor/1',
          payload: Buffer.from('payload'),
          qos: 1,
          messageId: 7,
          retain: false,
          dup: false,
          properties: { contentType: 'text/plain' },
        },
        version,
      );
      for (let length = 1; length < packet.length; length++) {
        assert.throws(
          () => decodePublish(packet.subarray(0, length), version),
          isProtocolError(ReasonCode.MalformedPacket),
          `v${version} cut at ${length}`,
        );
      }
    }
  });

  it('rejects a remaining length shorter than the variable header with MalformedPacket', () => {
    // Remaining length 4 covers topic 't' and half of the packet identifier.
    const packet = Buffer.from([0x32, 0x04, 0x00, 0x01, 0x74, 0x00, 0x01]);
    assert.throws(() => decodePublish(packet, 4), isProtocolError(ReasonCode.MalformedPacket));
    // v5: property length runs past the remaining length.
    const v5 = Buffer.from([0x30, 0x04, 0x00, 0x01, 0x74, 0x05, 0x01, 0x01]);
    assert.throws(() => decodePublish(v5, 5), isProtocolError(ReasonCode.MalformedPacket));
  });

  it('rejects a property that PUBLISH may not carry (spec 2.2.2.2) with MalformedPacket', () => {
    // Property 0x11 is Session Expiry Interval.
    const packet = Buffer.from([0x30, 0x0a, 0x00, 0x01, 0x74, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01, 0x21]);
    assert.throws(() => decodePublish(packet, 5), isProtocolError(ReasonCode.MalformedPacket));
    const unknown = Buffer.from([0x30, 0x07, 0x00, 0x01, 0x74, 0x02, 0x7f, 0x00, 0x21]);
    assert.throws(() => decodePublish(unknown, 5), isProtocolError(ReasonCode.MalformedPacket));
  });

  it('rejects a property that overruns its section with MalformedPacket', () => {
    const sections = [
      [0x01, 0x01], // Payload Format Indicator without its byte
      [0x02, 0x02, 0x00], // Message Expiry Interval with 1 of 4 bytes
      [0x01, 0x23], // Topic Alias without its value
      [0x03, 0x08, 0x00, 0x05], // Response Topic of 5 bytes with none present
      [0x01, 0x0b], // Subscription Identifier without its varint
      [0x02, 0x0b, 0x80], // Subscription Identifier with an unfinished varint
      [0x05, 0x26, 0x00, 0x01, 0x6b, 0x00], // User Property without its value
    ];
    for (const section of sections) {
      // Topic 't', the property section, then a payload the property must not reach into.
      const packet = Buffer.from([0x30, 3 + section.length + 2, 0x00, 0x01, 0x74, ...section, 0x00, 0x01]);
      assert.throws(() => decodePublish(packet, 5), isProtocolError(ReasonCode.MalformedPacket), JSON.stringify(section));
    }
  });

  it('rejects a Topic Alias given twice (spec 3.3.2.3.4) with ProtocolError', () => {
    const packet = Buffer.from([0x30, 0x0b, 0x00, 0x01, 0x74, 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02, 0x21]);
    assert.throws(() => decodePublish(packet, 5), isProtocolError(ReasonCode.ProtocolError));
  });
});

describe('encodeAck', () => {
  it('matches mqtt-packet byte for byte for every ack, version and reason code', () => {
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as AckCmd[]) {
      for (const protocolVersion of [4, 5]) {
        for (const reasonCode of [0x00, 0x10, 0x80, 0x92]) {
          for (const messageId of [1, 0x1234, 65535]) {
            const expected = mqttPacket.generate({ cmd, messageId, reasonCode } as mqttPacket.Packet, { protocolVersion });
            assert.deepEqual(
              encodeAck(cmd, messageId, reasonCode, protocolVersion),
              expected,
              `${cmd} v${protocolVersion} rc ${reasonCode}`,
            );
          }
        }
      }
    }
  });
});

describe('randomized round trips (seeded)', () => {
  it('encode equals mqtt-packet and decode inverts encode', () => {
    const next = seededRandom(0x5eed);
    const int = (n: number) => Math.floor(next() * n);
    const alphabet = ['a', 'b', '/', 'é', '€', '𝄞', '0', '$', ' '];
    for (let i = 0; i < 2000; i++) {
      const version = next() < 0.5 ? 4 : 5;
      const qos = int(3) as QoS;
      const topic = Array.from({ length: 1 + int(40) }, () => alphabet[int(alphabet.length)]).join('');
      const payload = Buffer.from(Array.from({ length: next() < 0.1 ? int(20_000) : int(300) }, () => int(256)));
      const p: EncodablePublish = { topic, payload, qos, retain: next() < 0.5, dup: qos > 0 && next() < 0.5 };
      if (qos > 0) p.messageId = 1 + int(65535);
      if (version === 5 && next() < 0.3) {
        p.properties = { messageExpiryInterval: int(100_000), userProperties: { k: topic } };
        if (next() < 0.5) p.properties.correlationData = payload.subarray(0, int(10));
      }
      const encoded = encodePublish(p, version);
      assert.deepEqual(encoded, generate(p, version), `case ${i}`);
      assert.equal(encodedPublishLength(p, version), encoded.length, `case ${i}`);
      const decoded = decodePublish(encoded, version);
      const expected: Record<string, unknown> = { ...p };
      if (version === 5 && p.properties) expected['properties'] = parse(encoded, 5).properties;
      assert.deepEqual({ ...decoded, payload: Buffer.from(decoded.payload) }, expected, `case ${i}`);
    }
  });
});
