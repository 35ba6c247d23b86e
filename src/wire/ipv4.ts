/** IPv4 header (RFC 791; what the kernel sends: spec §2.3, what it accepts: §3.5). */
import { WireError, requireLength, requireRoom, requireUint } from './errors.js';
import { readU16BE, readU8, writeU16BE, writeU8 } from './bytes.js';
import { readIpv4, requireIpv4, writeIpv4 } from './address.js';
import { internetChecksum, sumWords, foldSum } from './checksum.js';

export const IPV4_VERSION_IHL_OFFSET = 0;
export const IPV4_TOS_OFFSET = 1;
export const IPV4_TOTAL_LENGTH_OFFSET = 2;
export const IPV4_ID_OFFSET = 4;
export const IPV4_FLAGS_FRAGMENT_OFFSET = 6;
export const IPV4_TTL_OFFSET = 8;
export const IPV4_PROTOCOL_OFFSET = 9;
export const IPV4_CHECKSUM_OFFSET = 10;
export const IPV4_SRC_OFFSET = 12;
export const IPV4_DST_OFFSET = 16;
/** Header without options: the only size the kernel emits or accepts. */
export const IPV4_HEADER_SIZE = 20;
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;

export const IPPROTO_UDP = 17;

const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

/*
 * Field accessors on a header at byte `at` of a buffer, for the hot paths
 * that must not build a repr per packet (smoltcp's Packet view): the caller
 * checks first that IPV4_HEADER_SIZE bytes are there.
 */
export const ipv4Version = (buf: Uint8Array, at = 0): number => readU8(buf, at + IPV4_VERSION_IHL_OFFSET) >>> 4;
/** Bytes, from IHL × 4. */
export const ipv4HeaderLength = (buf: Uint8Array, at = 0): number => (readU8(buf, at + IPV4_VERSION_IHL_OFFSET) & 0x0f) * 4;
export const ipv4Tos = (buf: Uint8Array, at = 0): number => readU8(buf, at + IPV4_TOS_OFFSET);
export const ipv4TotalLength = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + IPV4_TOTAL_LENGTH_OFFSET);
export const ipv4Id = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + IPV4_ID_OFFSET);
/** The flags (DF 0x4000, MF 0x2000) and the fragment offset, as the 16-bit field holds them. */
export const ipv4FlagsFragment = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + IPV4_FLAGS_FRAGMENT_OFFSET);
/** More fragments follow, or this is not the first: the packet is a fragment. */
export const ipv4IsFragment = (buf: Uint8Array, at = 0): boolean =>
  (ipv4FlagsFragment(buf, at) & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK)) !== 0;
export const ipv4Ttl = (buf: Uint8Array, at = 0): number => readU8(buf, at + IPV4_TTL_OFFSET);
export const ipv4Protocol = (buf: Uint8Array, at = 0): number => readU8(buf, at + IPV4_PROTOCOL_OFFSET);
export const ipv4Checksum = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + IPV4_CHECKSUM_OFFSET);
export const ipv4Src = (buf: Uint8Array, at = 0): number => readIpv4(buf, at + IPV4_SRC_OFFSET);
export const ipv4Dst = (buf: Uint8Array, at = 0): number => readIpv4(buf, at + IPV4_DST_OFFSET);
/** Version 4 and the IHL of a header of `headerLength` bytes. */
export const setIpv4VersionAndHeaderLength = (buf: Uint8Array, at: number, headerLength: number): void =>
  writeU8(buf, at + IPV4_VERSION_IHL_OFFSET, 0x40 | (headerLength / 4));
export const setIpv4Tos = (buf: Uint8Array, at: number, value: number): void => writeU8(buf, at + IPV4_TOS_OFFSET, value);
export const setIpv4TotalLength = (buf: Uint8Array, at: number, value: number): void =>
  writeU16BE(buf, at + IPV4_TOTAL_LENGTH_OFFSET, value);
export const setIpv4Id = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + IPV4_ID_OFFSET, value);
export const setIpv4FlagsFragment = (buf: Uint8Array, at: number, value: number): void =>
  writeU16BE(buf, at + IPV4_FLAGS_FRAGMENT_OFFSET, value);
export const setIpv4Ttl = (buf: Uint8Array, at: number, value: number): void => writeU8(buf, at + IPV4_TTL_OFFSET, value);
export const setIpv4Protocol = (buf: Uint8Array, at: number, value: number): void => writeU8(buf, at + IPV4_PROTOCOL_OFFSET, value);
export const setIpv4Checksum = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + IPV4_CHECKSUM_OFFSET, value);
export const setIpv4Src = (buf: Uint8Array, at: number, value: number): void => writeIpv4(buf, at + IPV4_SRC_OFFSET, value);
export const setIpv4Dst = (buf: Uint8Array, at: number, value: number): void => writeIpv4(buf, at + IPV4_DST_OFFSET, value);

export interface Ipv4Repr {
  tos: number;
  /** Header + payload, from the header's total-length field. */
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** As on the wire: in units of 8 bytes (0..8191). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  /** Bytes, from IHL × 4; > 20 means options are present. Payload starts here. */
  headerLength: number;
}

/** What `emitIpv4` needs: the header is always 20 bytes, so headerLength may be left out. */
export type Ipv4EmitRepr = Omit<Ipv4Repr, 'headerLength'> & { headerLength?: number };

export interface Ipv4ParseOptions {
  /** Default true. False skips the header checksum (e.g. NIC-verified input). */
  verifyChecksum?: boolean;
}

/**
 * Parses and validates an IPv4 header. Bytes after `totalLength` (Ethernet
 * padding) are allowed and ignored: the payload is [headerLength, totalLength).
 * Options are allowed here; the caller decides whether to accept them.
 */
export function parseIpv4(packet: Uint8Array, options: Ipv4ParseOptions = {}): Ipv4Repr {
  requireLength('ipv4', packet, IPV4_HEADER_SIZE);
  const version = ipv4Version(packet);
  if (version !== 4) {
    throw new WireError('ipv4', 'malformed', `version is ${version}, expected 4`);
  }
  const headerLength = ipv4HeaderLength(packet);
  if (headerLength < IPV4_HEADER_SIZE) {
    throw new WireError('ipv4', 'malformed', `header length is ${headerLength} bytes (IHL ${headerLength / 4}), minimum is 20`);
  }
  requireLength('ipv4', packet, headerLength);
  const totalLength = ipv4TotalLength(packet);
  if (totalLength < headerLength) {
    throw new WireError('ipv4', 'malformed', `total length ${totalLength} is shorter than the ${headerLength}-byte header`);
  }
  if (totalLength > packet.length) {
    throw new WireError('ipv4', 'truncated', `total length says ${totalLength} bytes, have ${packet.length}`);
  }
  if (options.verifyChecksum !== false) {
    verifyHeaderChecksum(packet, headerLength);
  }
  const flagsFragment = ipv4FlagsFragment(packet);
  return {
    tos: ipv4Tos(packet),
    totalLength,
    id: ipv4Id(packet),
    dontFragment: (flagsFragment & FLAG_DONT_FRAGMENT) !== 0,
    moreFragments: (flagsFragment & FLAG_MORE_FRAGMENTS) !== 0,
    fragmentOffset: flagsFragment & FRAGMENT_OFFSET_MASK,
    ttl: ipv4Ttl(packet),
    protocol: ipv4Protocol(packet),
    src: ipv4Src(packet),
    dst: ipv4Dst(packet),
    headerLength,
  };
}

function verifyHeaderChecksum(packet: Uint8Array, headerLength: number): void {
  // Summing a correct header, checksum field included, gives 0xffff.
  const sum = foldSum(sumWords(packet, 0, headerLength));
  if (sum !== 0xffff) {
    const field = ipv4Checksum(packet);
    throw new WireError(
      'ipv4',
      'checksum',
      `header checksum 0x${field.toString(16).padStart(4, '0')} does not verify (sum 0x${sum.toString(16)})`,
    );
  }
}

function validateIpv4(repr: Ipv4EmitRepr): void {
  if (repr.headerLength !== undefined && repr.headerLength !== IPV4_HEADER_SIZE) {
    throw new WireError('ipv4', 'range', `headerLength = ${repr.headerLength}: only 20-byte headers (no options) are emitted`);
  }
  requireUint('ipv4', 'tos', repr.tos, 0xff);
  if (!Number.isSafeInteger(repr.totalLength) || repr.totalLength < IPV4_HEADER_SIZE || repr.totalLength > IPV4_MAX_TOTAL_LENGTH) {
    throw new WireError('ipv4', 'range', `totalLength = ${repr.totalLength} is outside 20..65535`);
  }
  requireUint('ipv4', 'id', repr.id, 0xffff);
  requireUint('ipv4', 'fragmentOffset', repr.fragmentOffset, FRAGMENT_OFFSET_MASK);
  requireUint('ipv4', 'ttl', repr.ttl, 0xff);
  requireUint('ipv4', 'protocol', repr.protocol, 0xff);
  requireIpv4('ipv4 src', repr.src);
  requireIpv4('ipv4 dst', repr.dst);
}

/**
 * Writes a 20-byte header (version 4, IHL 5, no options) with its checksum.
 * The payload is the caller's business. Returns bytes written (20).
 */
export function emitIpv4(repr: Ipv4EmitRepr, buf: Uint8Array, offset = 0): number {
  validateIpv4(repr);
  requireRoom('ipv4', buf, offset, IPV4_HEADER_SIZE);
  const flags = (repr.dontFragment ? FLAG_DONT_FRAGMENT : 0) | (repr.moreFragments ? FLAG_MORE_FRAGMENTS : 0);
  setIpv4VersionAndHeaderLength(buf, offset, IPV4_HEADER_SIZE);
  setIpv4Tos(buf, offset, repr.tos);
  setIpv4TotalLength(buf, offset, repr.totalLength);
  setIpv4Id(buf, offset, repr.id);
  setIpv4FlagsFragment(buf, offset, flags | repr.fragmentOffset);
  setIpv4Ttl(buf, offset, repr.ttl);
  setIpv4Protocol(buf, offset, repr.protocol);
  setIpv4Checksum(buf, offset, 0);
  setIpv4Src(buf, offset, repr.src);
  setIpv4Dst(buf, offset, repr.dst);
  setIpv4Checksum(buf, offset, internetChecksum(buf, offset, offset + IPV4_HEADER_SIZE));
  return IPV4_HEADER_SIZE;
}
