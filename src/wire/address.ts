/**
 * MAC and IPv4 addresses: text <-> wire form. MACs are 6-byte Uint8Arrays,
 * IPv4 addresses unsigned 32-bit numbers (host arithmetic, written big-endian).
 */
import { WireError } from './errors.js';
import { readU32BE, writeU32BE } from './bytes.js';

export const MAC_SIZE = 6;
export const IPV4_ADDRESS_SIZE = 4;

// Six groups of one or two hex digits, all separated by the same ':' or '-'.
const MAC_PATTERN = /^[0-9a-f]{1,2}([:-])[0-9a-f]{1,2}(?:\1[0-9a-f]{1,2}){4}$/i;
// Decimal octets without leading zeros: "010" is octal to inet_aton, so refuse it.
const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4_PATTERN = new RegExp(`^${IPV4_OCTET}\\.${IPV4_OCTET}\\.${IPV4_OCTET}\\.${IPV4_OCTET}$`);

export function parseMac(text: string): Uint8Array {
  const match = MAC_PATTERN.exec(text);
  if (match === null) {
    throw new WireError('address', 'malformed', `"${text}" is not a MAC address like 02:00:00:00:00:01`);
  }
  return Uint8Array.from(text.split(match[1]!), (group) => parseInt(group, 16));
}

export function formatMac(mac: Uint8Array): string {
  requireMac('mac', mac);
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, '0')).join(':');
}

export function parseIpv4Address(text: string): number {
  const match = IPV4_PATTERN.exec(text);
  if (match === null) {
    throw new WireError('address', 'malformed', `"${text}" is not a dotted-quad IPv4 address like 198.18.0.1`);
  }
  const [a, b, c, d] = match.slice(1).map(Number) as [number, number, number, number];
  return a * 0x100_0000 + b * 0x1_0000 + c * 0x100 + d;
}

export function formatIpv4Address(address: number): string {
  requireIpv4('address', address);
  return [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join('.');
}

/** Throws (reason 'range') unless `mac` is exactly 6 bytes; `what` names it in the message. */
export function requireMac(what: string, mac: Uint8Array): void {
  if (mac.length !== MAC_SIZE) {
    throw new WireError('address', 'range', `${what} must be ${MAC_SIZE} bytes, got ${mac.length}`);
  }
}

/** Throws (reason 'range') unless `address` is an unsigned 32-bit integer. */
export function requireIpv4(what: string, address: number): void {
  if (!Number.isSafeInteger(address) || address < 0 || address > 0xffff_ffff) {
    throw new WireError('address', 'range', `${what} = ${address} is not an unsigned 32-bit IPv4 address`);
  }
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/** Compares the 6 bytes at `offset` with `mac` without copying (false if out of bounds). */
export function macEqualsAt(buf: Uint8Array, offset: number, mac: Uint8Array): boolean {
  if (mac.length !== MAC_SIZE || !Number.isInteger(offset) || offset < 0 || offset + MAC_SIZE > buf.length) {
    return false;
  }
  for (let i = 0; i < MAC_SIZE; i++) {
    if (buf[offset + i] !== mac[i]) return false;
  }
  return true;
}

/** Copies the 6 bytes at `offset` (the result does not alias `buf`). */
export function readMac(buf: Uint8Array, offset: number): Uint8Array {
  if (!Number.isInteger(offset) || offset < 0 || offset + MAC_SIZE > buf.length) {
    throw new WireError('bytes', 'truncated', `MAC at offset ${offset} is outside a ${buf.length}-byte buffer`);
  }
  return buf.slice(offset, offset + MAC_SIZE);
}

export function writeMac(buf: Uint8Array, offset: number, mac: Uint8Array): void {
  requireMac('mac', mac);
  if (!Number.isInteger(offset) || offset < 0 || offset + MAC_SIZE > buf.length) {
    throw new WireError('bytes', 'range', `MAC at offset ${offset} does not fit a ${buf.length}-byte buffer`);
  }
  buf.set(mac, offset);
}

export const readIpv4 = readU32BE;
export const writeIpv4 = writeU32BE;
