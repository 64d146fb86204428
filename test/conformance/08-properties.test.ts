/**
 * Conformance, MQTT 5.0 properties (spec 3.1.2.11, 3.3.2.3, 4.10): the
 * application properties forwarded unaltered, Request Problem Information
 * (Reason Strings only where allowed), Reason Strings within the client's
 * Maximum Packet Size, and Request Response Information. 5.0 only, except the
 * check that a 3.1.1 subscriber gets a 5.0 message without them. Two brokers:
 * one on defaults, one with `responseInformation` set.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerForSuite } from '../helpers/broker.js';
import { connectRaw, expectServerClose, publish, receive, subscribe, topic } from './support.js';

const RESPONSE_INFORMATION = 'replies/shoal';
const NOT_UTF8 = Buffer.from([0xc3, 0x28]);

const b = brokerForSuite();
const withInfo = brokerForSuite({ responseInformation: RESPONSE_INFORMATION });

describe('08 properties (MQTT 5.0)', () => {
  test('[MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] Response Topic, Correlation Data, User Properties (in order) and Content Type are forwarded unaltered', async () => {
    const t = topic('props');
    const sub = await connectRaw(b.port, 5);
    await subscribe(sub, t);
    const pub = await connectRaw(b.port, 5);
    const properties = {
      responseTopic: 'reply/to/me',
      correlationData: Buffer.from([0, 1, 2, 0xff]),
      userProperties: { z: 'last', a: ['first', 'second'], m: 'middle' },
      contentType: 'application/json',
    };
    await publish(pub, t, '{}', 1, { properties });
    const got = await receive(sub);
    assert.equal(got.properties?.responseTopic, properties.responseTopic);
    assert.deepEqual(got.properties?.correlationData, properties.correlationData);
    assert.equal(got.properties?.contentType, properties.contentType);
    const user = got.properties?.userProperties ?? {};
    assert.deepEqual(Object.entries(user), Object.entries(properties.userProperties));
  });

  test('[MQTT-3.1.2-29] with Request Problem Information 0 no Reason String is sent on PUBACK, PUBREC or SUBACK; DISCONNECT still carries one', async () => {
    const quiet = await connectRaw(b.port, 5, { properties: { requestProblemInformation: false } });
    const puback = await publish(quiet, topic('rpi'), NOT_UTF8, 1, { properties: { payloadFormatIndicator: true } });
    assert.equal((puback as { reasonCode?: number }).reasonCode, 0x99);
    assert.equal((puback as { properties?: object }).properties, undefined);
    const pubrec = await publish(quiet, topic('rpi'), NOT_UTF8, 2, { properties: { payloadFormatIndicator: true } });
    assert.equal((pubrec as { properties?: object }).properties, undefined);
    const suback = await subscribe(quiet, [{ topic: 'bad/#/filter', qos: 0 }]);
    assert.deepEqual(suback.granted, [0x8f]);
    assert.equal(suback.properties, undefined);
    await publish(quiet, 'a/+', 'x', 0);
    const disconnect = await expectServerClose(quiet, 5, 0x90);
    assert.ok(disconnect?.properties?.reasonString, 'DISCONNECT may carry a Reason String');

    const told = await connectRaw(b.port, 5);
    const explained = await publish(told, topic('rpi'), NOT_UTF8, 1, { properties: { payloadFormatIndicator: true } });
    assert.ok((explained as { properties?: { reasonString?: string } }).properties?.reasonString, 'by default a refusal is explained');
  });

  test("[MQTT-3.4.2-2] a Reason String that would exceed the client's Maximum Packet Size is left out", async () => {
    const small = await connectRaw(b.port, 5, { properties: { maximumPacketSize: 24 } });
    const puback = await publish(small, topic('mps'), NOT_UTF8, 1, { properties: { payloadFormatIndicator: true } });
    assert.equal((puback as { reasonCode?: number }).reasonCode, 0x99);
    assert.equal((puback as { properties?: object }).properties, undefined);
  });

  test('[MQTT-3.1.2-28] Response Information is sent only when asked for and configured', async () => {
    const asked = await connectRaw(withInfo.port, 5, { properties: { requestResponseInformation: true } });
    assert.equal(asked.connack.properties?.responseInformation, RESPONSE_INFORMATION);
    const notAsked = await connectRaw(withInfo.port, 5);
    assert.equal(notAsked.connack.properties?.responseInformation, undefined);
    const unconfigured = await connectRaw(b.port, 5, { properties: { requestResponseInformation: true } });
    assert.equal(unconfigured.connack.properties?.responseInformation, undefined);
  });

  test('a 5.0 message with properties reaches a 3.1.1 subscriber as a plain message', async () => {
    const t = topic('downlevel');
    const sub = await connectRaw(b.port, 4);
    await subscribe(sub, t);
    const pub = await connectRaw(b.port, 5);
    await publish(pub, t, 'plain', 1, { properties: { userProperties: { k: 'v' }, contentType: 'text/plain', messageExpiryInterval: 60 } });
    const got = await receive(sub);
    assert.equal(got.payload.toString(), 'plain');
    assert.equal(got.properties, undefined);
  });
});
