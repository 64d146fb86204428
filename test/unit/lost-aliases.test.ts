/**
 * Unit tests for peekTopicAlias (src/shared/codec/publish.ts) against mqtt-packet's
 * encoding of every PUBLISH property, and for LostAliases
 * (src/main/net/lost-aliases.ts): which PUBLISHes mark an alias lost, which teach
 * it again, and the re-encoding of an alias-only PUBLISH with its topic.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import {
  decodePublish,
  encodePublish,
  peekTopicAlias,
  type EncodablePublish,
  type PublishProperties,
} from '../../src/shared/codec/publish.js';
import { LostAliases } from '../../src/main/net/lost-aliases.js';

const PROPERTIES: PublishProperties = {
  payloadFormatIndicator: true,
  messageExpiryInterval: 60,
  contentType: 'text/plain',
  responseTopic: 'reply/here',
  correlationData: Buffer.from([1, 2, 3]),
  userProperties: { a: 'b', multi: ['x', 'yé'] },
  subscriptionIdentifier: [1, 300, 268_435_455],
};

function publish(topic: string, qos: 0 | 1 | 2, properties?: PublishProperties): Buffer {
  const p: EncodablePublish = { topic, payload: Buffer.from(`${topic}|payload`), qos, retain: false, dup: false };
  if (qos > 0) p.messageId = 42;
  if (properties) p.properties = properties;
  return encodePublish(p, 5);
}

function topicOf(packet: Buffer): string {
  const { topicStart, topicEnd } = peekTopicAlias(packet);
  return packet.toString('utf8', topicStart, topicEnd);
}

describe('peekTopicAlias', () => {
  for (const qos of [0, 1, 2] as const) {
    it(`finds the topic and the Topic Alias among every other PUBLISH property (QoS ${qos})`, () => {
      for (const [name, value] of Object.entries(PROPERTIES)) {
        const properties = { [name]: value, topicAlias: 513 } as PublishProperties;
        for (const topic of ['', 'a/b', 'héllo/€']) {
          const packet = Buffer.from(
            mqttPacket.generate(
              { cmd: 'publish', topic, payload: 'x', qos, retain: false, dup: false, messageId: 7, properties },
              { protocolVersion: 5 },
            ),
          );
          assert.equal(peekTopicAlias(packet).alias, 513, name);
          assert.equal(topicOf(packet), topic);
        }
      }
      const all = Buffer.from(
        mqttPacket.generate(
          {
            cmd: 'publish',
            topic: 't',
            payload: 'x',
            qos,
            retain: true,
            dup: false,
            messageId: 7,
            properties: { ...PROPERTIES, topicAlias: 9 },
          },
          { protocolVersion: 5 },
        ),
      );
      assert.equal(peekTopicAlias(all).alias, 9);
    });
  }

  it('gives alias 0 without a Topic Alias, with or without other properties', () => {
    assert.equal(peekTopicAlias(publish('a/b', 1)).alias, 0);
    assert.equal(peekTopicAlias(publish('a/b', 0, PROPERTIES)).alias, 0);
  });
});

describe('LostAliases', () => {
  it('a dropped PUBLISH that sets an alias marks it lost; an alias-only one or one without alias does not', () => {
    const lost = new LostAliases();
    lost.dropped(publish('', 0, { topicAlias: 1 }));
    lost.dropped(publish('plain', 0));
    assert.equal(lost.size, 0);
    lost.dropped(publish('t/1', 0, { topicAlias: 1, userProperties: { k: 'v' } }));
    assert.equal(lost.size, 1);
  });

  it('a PUBLISH that sets the lost alias again clears the mark and is written as is', () => {
    const lost = new LostAliases();
    lost.dropped(publish('t/1', 0, { topicAlias: 1 }));
    const again = publish('t/2', 0, { topicAlias: 1 });
    assert.equal(lost.repair(again, 0), again);
    assert.equal(lost.size, 0);
  });

  for (const qos of [0, 1, 2] as const) {
    it(`an alias-only QoS ${qos} PUBLISH of a lost alias is re-encoded with its topic and alias; the mark goes`, () => {
      const lost = new LostAliases();
      lost.dropped(publish('t/old', 0, { topicAlias: 2 }));
      lost.dropped(publish('t/new', 0, { topicAlias: 2 }));
      const other = publish('', qos, { topicAlias: 3 });
      assert.equal(lost.repair(other, 0), other);
      const repaired = lost.repair(publish('', qos, { topicAlias: 2, messageExpiryInterval: 5 }), 0);
      assert.ok(repaired);
      const decoded = decodePublish(Buffer.from(repaired), 5);
      assert.equal(decoded.topic, 't/new');
      assert.deepEqual(decoded.properties, { topicAlias: 2, messageExpiryInterval: 5 });
      assert.equal(decoded.payload.toString(), '|payload');
      assert.equal(decoded.qos, qos);
      if (qos > 0) assert.equal(decoded.messageId, 42);
      assert.equal(lost.size, 0);
    });
  }

  it('a re-encoded PUBLISH over the Maximum Packet Size is refused and the alias stays lost', () => {
    const lost = new LostAliases();
    lost.dropped(publish(`long/${'x'.repeat(100)}`, 0, { topicAlias: 1 }));
    const aliasOnly = publish('', 1, { topicAlias: 1 });
    assert.equal(lost.repair(aliasOnly, aliasOnly.length + 50), undefined);
    assert.equal(lost.size, 1);
    assert.ok(lost.repair(aliasOnly, 0));
  });

  it('reads a packet given as a view into a larger buffer', () => {
    const lost = new LostAliases();
    const packet = publish('t/view', 0, { topicAlias: 4 });
    const batch = new Uint8Array(packet.length + 10);
    batch.set(packet, 5);
    lost.dropped(batch.subarray(5, 5 + packet.length));
    const repaired = lost.repair(publish('', 0, { topicAlias: 4 }), 0);
    assert.equal(decodePublish(Buffer.from(repaired!), 5).topic, 't/view');
  });
});
