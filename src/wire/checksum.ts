/**
 * The Internet checksum (RFC 1071): the ones'-complement of the
 * ones'-complement sum of 16-bit big-endian words.
 *
 * Usage: `finishChecksum(sumWords(buf, start, end, ipv4PseudoHeaderSum(...)))`.
 * The accumulator is an ordinary JS number holding the unfolded sum; it stays
 * exact far beyond any IPv4 datagram (2^53 / 0xffff words).
 */
import { WireError } from './errors.js';

/**
 * Adds the bytes in [start, end) to `accumulator` as big-endian 16-bit words.
 * An odd final byte is padded with a zero low byte, so only the last range of
 * a chained computation may have odd length.
 */
export function sumWords(buf: Uint8Array, start: number, end: number, accumulator = 0): number {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > buf.length) {
    throw new WireError('checksum', 'range', `range [${start}, ${end}) is outside a ${buf.length}-byte buffer`);
  }
  let sum = accumulator;
  let i = start;
  for (; i + 1 < end; i += 2) {
    sum += (buf[i]! << 8) | buf[i + 1]!;
  }
  if (i < end) {
    sum += buf[i]! << 8;
  }
  return sum;
}

/** Folds the carries of an accumulator into 16 bits (the ones'-complement sum). */
export function foldSum(accumulator: number): number {
  let sum = accumulator;
  while (sum > 0xffff) {
    sum = (sum % 0x1_0000) + Math.floor(sum / 0x1_0000);
  }
  return sum;
}

/** The checksum field value: the complement of the folded sum. */
export function finishChecksum(accumulator: number): number {
  return ~foldSum(accumulator) & 0xffff;
}

/** Checksum of one byte range, e.g. an IPv4 header. */
export function internetChecksum(buf: Uint8Array, start: number, end: number): number {
  return finishChecksum(sumWords(buf, start, end));
}

/**
 * Sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768): source,
 * destination, zero byte, protocol, and the transport length.
 */
export function ipv4PseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
