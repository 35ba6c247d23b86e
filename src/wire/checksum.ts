/**
 * The Internet checksum (RFC 1071): the ones'-complement of the
 * ones'-complement sum of 16-bit big-endian words.
 *
 * Usage: `finishChecksum(sumWords(buf, start, end, ipv4PseudoHeaderSum(...)))`.
 * The accumulator is an ordinary JS number holding the unfolded sum; it stays
 * exact far beyond any IPv4 datagram (2^53 / 0xffff words).
 */
import { WireError } from './errors.js';
import { wasmSumOf } from './wasm-sum.js';

/**
 * Adds the bytes in [start, end) to `accumulator` as big-endian 16-bit words.
 * An odd final byte is padded with a zero low byte, so only the last range of
 * a chained computation may have odd length.
 */
export function sumWords(buf: Uint8Array, start: number, end: number, accumulator = 0): number {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > buf.length) {
    throw new WireError('checksum', 'range', `range [${start}, ${end}) is outside a ${buf.length}-byte buffer`);
  }
  if (end - start >= FAST_PATH_BYTES && LITTLE_ENDIAN) {
    const wasmSum = wasmSumOf(buf.buffer);
    if (wasmSum !== undefined) return sumWordsWasm(wasmSum, buf, start, end, accumulator);
    if (((buf.byteOffset + start) & 1) === 0) return sumWordsAligned(buf, start, end, accumulator);
  }
  return sumWordsBytewise(buf, start, end, accumulator);
}

function sumWordsBytewise(buf: Uint8Array, start: number, end: number, accumulator: number): number {
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

const FAST_PATH_BYTES = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** One 16-bit view per ArrayBuffer, made once: checksumming a packet allocates nothing. */
const wordViews = new WeakMap<ArrayBufferLike, Uint16Array>();

function wordView(buffer: ArrayBufferLike): Uint16Array {
  let view = wordViews.get(buffer);
  if (view === undefined) {
    view = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    wordViews.set(buffer, view);
  }
  return view;
}

/**
 * The same sum, the whole 8-byte words of the range summed by WebAssembly
 * in host (little-endian) order, which needs no alignment; the folded
 * result is swapped back as in sumWordsAligned, and the rest summed here.
 */
function sumWordsWasm(
  wasmSum: (start: number, length: number) => number,
  buf: Uint8Array,
  start: number,
  end: number,
  accumulator: number,
): number {
  const wholeWords = (end - start) & ~7;
  const folded = wasmSum(buf.byteOffset + start, wholeWords);
  return sumWordsBytewise(buf, start + wholeWords, end, accumulator + (((folded & 0xff) << 8) | (folded >>> 8)));
}

/**
 * The same sum, reading whole 16-bit words in host (little-endian) order:
 * a ones'-complement sum in one byte order is the byte swap of the sum in
 * the other (RFC 1071 §2(B)), so the folded result is swapped back.
 */
function sumWordsAligned(buf: Uint8Array, start: number, end: number, accumulator: number): number {
  const words = wordView(buf.buffer);
  const first = (buf.byteOffset + start) >>> 1;
  const count = (end - start) >>> 1;
  let sum = 0;
  for (let i = first; i < first + count; i++) sum += words[i]!;
  const folded = foldSum(sum);
  let total = accumulator + (((folded & 0xff) << 8) | (folded >>> 8));
  if ((end - start) & 1) total += buf[end - 1]! << 8;
  return total;
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
