/** UDP header (RFC 768) with the IPv4 pseudo-header checksum (spec §2.4). */
import { WireError, requireLength, requireRoom, requireUint } from './errors.js';
import { readU16BE, writeU16BE } from './bytes.js';
import { requireIpv4 } from './address.js';
import { finishChecksum, foldSum, ipv4PseudoHeaderSum, sumWords } from './checksum.js';
import { IPPROTO_UDP } from './ipv4.js';

export const UDP_SRC_PORT_OFFSET = 0;
export const UDP_DST_PORT_OFFSET = 2;
export const UDP_LENGTH_OFFSET = 4;
export const UDP_CHECKSUM_OFFSET = 6;
export const UDP_HEADER_SIZE = 8;
export const UDP_MAX_LENGTH = 0xffff;
/** In IPv4, a checksum field of 0 means "not computed" (RFC 768). */
export const UDP_NO_CHECKSUM = 0;

/*
 * Field accessors on a header at byte `at` of a buffer (smoltcp's Packet
 * view): the caller checks first that UDP_HEADER_SIZE bytes are there.
 */
export const udpSrcPort = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + UDP_SRC_PORT_OFFSET);
export const udpDstPort = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + UDP_DST_PORT_OFFSET);
/** Header + payload, as the length field says. */
export const udpLength = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + UDP_LENGTH_OFFSET);
export const udpChecksum = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + UDP_CHECKSUM_OFFSET);
export const setUdpSrcPort = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + UDP_SRC_PORT_OFFSET, value);
export const setUdpDstPort = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + UDP_DST_PORT_OFFSET, value);
export const setUdpLength = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + UDP_LENGTH_OFFSET, value);
export const setUdpChecksum = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + UDP_CHECKSUM_OFFSET, value);

/** What goes in the checksum field for a computed checksum: a computed 0 is sent as 0xffff, since 0 means none (spec §2.4). */
export function udpChecksumField(computed: number): number {
  return computed === 0 ? 0xffff : computed;
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Header + payload, from the length field; the payload is [8, length). */
  length: number;
  checksum: number;
}

export type UdpEmitRepr = Omit<UdpRepr, 'checksum'>;

/** The IPv4 addresses the checksum covers. */
export interface Ipv4PseudoHeader {
  src: number;
  dst: number;
}

function udpChecksumSum(datagram: Uint8Array, start: number, length: number, pseudo: Ipv4PseudoHeader): number {
  const pseudoSum = ipv4PseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_UDP, length);
  return sumWords(datagram, start, start + length, pseudoSum);
}

/**
 * Parses the UDP header at the start of `datagram` (the IPv4 payload, already
 * cut to the IP total length). Bytes after `length` are ignored, as the BSD
 * and Linux stacks do. With `pseudo`, a non-zero checksum is verified.
 */
export function parseUdp(datagram: Uint8Array, pseudo?: Ipv4PseudoHeader): UdpRepr {
  requireLength('udp', datagram, UDP_HEADER_SIZE);
  const length = udpLength(datagram);
  if (length < UDP_HEADER_SIZE) {
    throw new WireError('udp', 'malformed', `length field ${length} is shorter than the 8-byte header`);
  }
  if (length > datagram.length) {
    throw new WireError('udp', 'truncated', `length field says ${length} bytes, have ${datagram.length}`);
  }
  const checksum = udpChecksum(datagram);
  if (pseudo !== undefined && checksum !== UDP_NO_CHECKSUM) {
    const sum = foldSum(udpChecksumSum(datagram, 0, length, pseudo));
    if (sum !== 0xffff) {
      throw new WireError(
        'udp',
        'checksum',
        `checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify (sum 0x${sum.toString(16)})`,
      );
    }
  }
  return {
    srcPort: udpSrcPort(datagram),
    dstPort: udpDstPort(datagram),
    length,
    checksum,
  };
}

/**
 * Writes the 8-byte header at `offset` and the checksum over the pseudo-header,
 * the header and the `length - 8` payload bytes that must already follow it in
 * `buf`. A computed 0 is sent as 0xffff (spec §2.4). Returns bytes written (8).
 */
export function emitUdp(repr: UdpEmitRepr, buf: Uint8Array, offset: number, pseudo: Ipv4PseudoHeader): number {
  requireUint('udp', 'srcPort', repr.srcPort, 0xffff);
  requireUint('udp', 'dstPort', repr.dstPort, 0xffff);
  if (!Number.isSafeInteger(repr.length) || repr.length < UDP_HEADER_SIZE || repr.length > UDP_MAX_LENGTH) {
    throw new WireError('udp', 'range', `length = ${repr.length} is outside 8..65535`);
  }
  requireIpv4('udp pseudo-header src', pseudo.src);
  requireIpv4('udp pseudo-header dst', pseudo.dst);
  requireRoom('udp', buf, offset, repr.length);
  setUdpSrcPort(buf, offset, repr.srcPort);
  setUdpDstPort(buf, offset, repr.dstPort);
  setUdpLength(buf, offset, repr.length);
  setUdpChecksum(buf, offset, 0);
  setUdpChecksum(buf, offset, udpChecksumField(finishChecksum(udpChecksumSum(buf, offset, repr.length, pseudo))));
  return UDP_HEADER_SIZE;
}
