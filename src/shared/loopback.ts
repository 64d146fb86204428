/**
 * Whether a listener's address (or host name) is a loopback one: IPv4
 * 127.0.0.0/8, IPv6 ::1 (IPv4-mapped loopback too), `localhost` and names
 * under `.localhost` (RFC 6761). Any other name counts as not loopback.
 * Pure; runs on either thread.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const family = isIP(name);
  if (family === 0) return false;
  return LOOPBACK.check(name, family === 6 ? 'ipv6' : 'ipv4');
}
