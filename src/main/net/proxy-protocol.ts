/**
 * PROXY protocol, versions 1 (text) and 2 (binary), as sent by a load
 * balancer (HAProxy, AWS NLB, nginx stream, Traefik...) at the start of each
 * TCP connection it forwards: the address and port of the real client, before
 * any byte of the client's own. With `proxyProtocol` on, every connection to
 * the TCP listener must start with one; `Connection` feeds its first bytes to
 * a `ProxyHeaderReader` and hands the rest to its framer. Main thread.
 *
 * Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Longest v1 header, "PROXY TCP6 <39> <39> <5> <5>\r\n" (spec section 2.1). */
export const PROXY_V1_MAX_BYTES = 107;
/** Longest v2 header accepted: 16 bytes of fixed part, then addresses and TLVs. */
export const PROXY_V2_MAX_BYTES = 4096;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_BYTES = 16;

/** A header that is not a PROXY protocol header, or is malformed, unsupported or too long. */
export class ProxyProtocolError extends Error {
  override name = 'ProxyProtocolError';
}

/** What a PROXY header says about the connection. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * 'proxy': `source` is the real client. 'local': the proxy's own
   * connection (health check), or an address family that is not IP (v1
   * UNKNOWN, v2 UNSPEC or UNIX): the socket's endpoints stand.
   */
  command: 'proxy' | 'local';
  /** The real client, with command 'proxy'. */
  source?: { address: string; port: number; family: 'IPv4' | 'IPv6' };
  /** The address the client connected to (the proxy's front end), with command 'proxy'. */
  destination?: { address: string; port: number };
}

/** A complete header and the bytes after it (the client's first MQTT bytes, possibly none). */
export interface ProxyHeaderResult {
  header: ProxyHeader;
  rest: Buffer;
}

/** Whether `buf` is a prefix of `of` (or `of` a prefix of `buf`) over their common length. */
function matchesPrefix(buf: Buffer, of: Buffer): boolean {
  const n = Math.min(buf.length, of.length);
  return buf.subarray(0, n).equals(of.subarray(0, n));
}

/**
 * Parses the header at the start of `buf`: undefined while more bytes are
 * needed, the header and the bytes after it once complete. Throws
 * `ProxyProtocolError` as soon as the bytes cannot start a valid header.
 */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult | undefined {
  if (buf.length === 0) return undefined;
  if (matchesPrefix(buf, V2_SIGNATURE)) return buf.length < V2_FIXED_BYTES ? undefined : parseV2(buf);
  if (matchesPrefix(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? undefined : parseV1(buf);
  throw new ProxyProtocolError(`no PROXY protocol header: connection starts with 0x${buf.subarray(0, 8).toString('hex')}`);
}

const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function port(text: string): number {
  const n = PORT.test(text) ? Number(text) : NaN;
  if (!(n <= 65535)) throw new ProxyProtocolError(`PROXY v1: bad port ${JSON.stringify(text)}`);
  return n;
}

function parseV1(buf: Buffer): ProxyHeaderResult | undefined {
  // The line ends with CRLF within 107 bytes; only printable ASCII before it.
  const end = buf.subarray(0, PROXY_V1_MAX_BYTES).indexOf('\r\n', 0, 'latin1');
  if (end === -1) {
    if (buf.length >= PROXY_V1_MAX_BYTES) throw new ProxyProtocolError(`PROXY v1: no CRLF within ${PROXY_V1_MAX_BYTES} bytes`);
    for (const byte of buf)
      if (byte !== 0x0d && (byte < 0x20 || byte > 0x7e)) throw new ProxyProtocolError('PROXY v1: byte outside printable ASCII');
    return undefined;
  }
  const line = buf.toString('latin1', 0, end);
  if (!/^[\x20-\x7e]*$/.test(line)) throw new ProxyProtocolError('PROXY v1: byte outside printable ASCII');
  const rest = buf.subarray(end + 2);
  const fields = line.split(' ');
  const protocol = fields[1];
  if (protocol === 'UNKNOWN') return { header: { version: 1, command: 'local' }, rest };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') throw new ProxyProtocolError(`PROXY v1: unknown protocol ${JSON.stringify(protocol)}`);
  if (fields.length !== 6)
    throw new ProxyProtocolError(`PROXY v1: expected "PROXY ${protocol} src dst sport dport", got ${JSON.stringify(line)}`);
  const [, , src = '', dst = '', sport = '', dport = ''] = fields;
  const valid = protocol === 'TCP4' ? isIPv4 : isIPv6;
  for (const address of [src, dst]) {
    if (!valid(address)) throw new ProxyProtocolError(`PROXY v1: bad ${protocol} address ${JSON.stringify(address)}`);
  }
  const family = protocol === 'TCP4' ? 'IPv4' : 'IPv6';
  return {
    header: {
      version: 1,
      command: 'proxy',
      source: { address: family === 'IPv6' ? src.toLowerCase() : src, port: port(sport), family },
      destination: { address: family === 'IPv6' ? dst.toLowerCase() : dst, port: port(dport) },
    },
    rest,
  };
}

/** An IPv6 address in RFC 5952 text: lowercase, longest run of zero groups as '::', IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIPv6(bytes: Buffer): string {
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes.readUInt16BE(10) === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function parseV2(buf: Buffer): ProxyHeaderResult | undefined {
  const versionCommand = buf[12] as number;
  const familyProtocol = buf[13] as number;
  const length = buf.readUInt16BE(14);
  const total = V2_FIXED_BYTES + length;
  if (versionCommand >> 4 !== 2) throw new ProxyProtocolError(`PROXY v2: unsupported version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw new ProxyProtocolError(`PROXY v2: unknown command ${command}`);
  if (total > PROXY_V2_MAX_BYTES) throw new ProxyProtocolError(`PROXY v2: header of ${total} bytes, over ${PROXY_V2_MAX_BYTES}`);
  if (buf.length < total) return undefined;
  const rest = buf.subarray(total);
  // LOCAL: the proxy's own connection; addresses (and the family byte) are ignored.
  if (command === 0) return { header: { version: 2, command: 'local' }, rest };
  const body = buf.subarray(V2_FIXED_BYTES, total);
  switch (familyProtocol) {
    case 0x00: // UNSPEC
    case 0x31: // UNIX stream
    case 0x32: // UNIX datagram
      return { header: { version: 2, command: 'local' }, rest };
    case 0x11: // TCP over IPv4: src 4, dst 4, sport 2, dport 2
      return { header: v2TcpAddresses(body, 'IPv4'), rest };
    case 0x21: // TCP over IPv6: src 16, dst 16, sport 2, dport 2
      return { header: v2TcpAddresses(body, 'IPv6'), rest };
    case 0x12:
    case 0x22:
      throw new ProxyProtocolError('PROXY v2: UDP addresses on a TCP connection');
    default:
      throw new ProxyProtocolError(`PROXY v2: unknown address family/protocol 0x${familyProtocol.toString(16).padStart(2, '0')}`);
  }
}

/** A v2 PROXY header's TCP addresses: source address, destination address, source port, destination port. */
function v2TcpAddresses(body: Buffer, family: 'IPv4' | 'IPv6'): ProxyHeader {
  const size = family === 'IPv4' ? 4 : 16;
  const needed = 2 * size + 4;
  if (body.length < needed)
    throw new ProxyProtocolError(`PROXY v2: TCP${family === 'IPv4' ? 4 : 6} addresses need ${needed} bytes, got ${body.length}`);
  const format = family === 'IPv4' ? (bytes: Buffer): string => bytes.join('.') : formatIPv6;
  return {
    version: 2,
    command: 'proxy',
    source: { address: format(body.subarray(0, size)), port: body.readUInt16BE(2 * size), family },
    destination: { address: format(body.subarray(size, 2 * size)), port: body.readUInt16BE(2 * size + 2) },
  };
}

/**
 * Collects the first chunks of a connection until its PROXY header is
 * complete. `push` returns undefined while more is needed, then the result
 * once; it throws `ProxyProtocolError` for a bad header. The bytes held never
 * exceed the longest header allowed plus one chunk.
 */
export class ProxyHeaderReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ProxyHeaderResult | undefined {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const result = parseProxyHeader(this.buffered);
    if (result) this.buffered = Buffer.alloc(0);
    return result;
  }
}
