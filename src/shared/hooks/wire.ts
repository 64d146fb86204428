/**
 * The JSON form of hook arguments and chain outcomes in hookCall / hookResult
 * frames: byte arrays travel as base64, an Error as its message, and an
 * `undefined` argument stays in its position. Used on every thread.
 */
const BYTES = '$b64',
  ERROR = '$error',
  UNDEFINED = '$undefined';

export function toWire(value: unknown): string {
  return JSON.stringify(value, function replacer(this: Record<string, unknown>, key: string, json: unknown) {
    // `this[key]` is the value before toJSON (a Buffer would already be {type, data}).
    const raw = this[key];
    if (raw instanceof Uint8Array) return { [BYTES]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    if (raw instanceof Error) return { [ERROR]: raw.message };
    if (raw === undefined && Array.isArray(this)) return { [UNDEFINED]: true };
    return json;
  });
}

export function fromWire(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const tagged = value as Record<string, unknown>;
    if (typeof tagged[BYTES] === 'string') return Buffer.from(tagged[BYTES], 'base64');
    if (typeof tagged[ERROR] === 'string') return new Error(tagged[ERROR]);
    if (tagged[UNDEFINED] === true) return undefined;
    return value;
  });
}
