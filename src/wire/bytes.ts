/**
 * Big-endian (network and "dump" byte order) integer access by hand, so no
 * DataView is allocated per packet. Every helper checks its own bounds as a
 * last line of defence; parsers and emitters check lengths first and report
 * them with better messages.
 */
import { WireError, type WireLayer } from './errors.js';

const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word of a u64 that keeps the value <= Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

// `x >>> 0 === x` holds exactly for the integers 0..2^32-1: one comparison instead of three, on every field access.
function checkBounds(buf: Uint8Array, offset: number, size: number): void {
  if (offset >>> 0 !== offset || offset + size > buf.length) {
    throw new WireError('bytes', 'truncated', `${size}-byte access at offset ${offset} is outside a ${buf.length}-byte buffer`);
  }
}

function checkValue(value: number, max: number, type: string): void {
  const fits = max <= 0xffff_ffff ? value >>> 0 === value && value <= max : Number.isSafeInteger(value) && value >= 0 && value <= max;
  if (!fits) {
    throw new WireError('bytes', 'range', `${value} does not fit in ${type}`);
  }
}

export function readU8(buf: Uint8Array, offset: number): number {
  checkBounds(buf, offset, 1);
  return buf[offset]!;
}

export function readU16BE(buf: Uint8Array, offset: number): number {
  checkBounds(buf, offset, 2);
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

export function readU32BE(buf: Uint8Array, offset: number): number {
  checkBounds(buf, offset, 4);
  return buf[offset]! * 0x100_0000 + ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
}

/**
 * Reads a u64 as a JS number; throws reason 'range' above
 * Number.MAX_SAFE_INTEGER, naming `layer` and `field` in the error.
 */
export function readU64BE(buf: Uint8Array, offset: number, layer: WireLayer = 'bytes', field = 'u64'): number {
  checkBounds(buf, offset, 8);
  const high = readU32BE(buf, offset);
  const low = readU32BE(buf, offset + 4);
  if (high > MAX_SAFE_HIGH_WORD) {
    const hex = `0x${high.toString(16).padStart(8, '0')}${low.toString(16).padStart(8, '0')}`;
    throw new WireError(layer, 'range', `${field} ${hex} is above Number.MAX_SAFE_INTEGER`);
  }
  return high * TWO_POW_32 + low;
}

/** Reads a u64 exactly, as a bigint. */
export function readU64BigBE(buf: Uint8Array, offset: number): bigint {
  checkBounds(buf, offset, 8);
  return (BigInt(readU32BE(buf, offset)) << 32n) | BigInt(readU32BE(buf, offset + 4));
}

export function writeU8(buf: Uint8Array, offset: number, value: number): void {
  checkBounds(buf, offset, 1);
  checkValue(value, 0xff, 'u8');
  buf[offset] = value;
}

export function writeU16BE(buf: Uint8Array, offset: number, value: number): void {
  checkBounds(buf, offset, 2);
  checkValue(value, 0xffff, 'u16');
  buf[offset] = value >>> 8;
  buf[offset + 1] = value & 0xff;
}

export function writeU32BE(buf: Uint8Array, offset: number, value: number): void {
  checkBounds(buf, offset, 4);
  checkValue(value, 0xffff_ffff, 'u32');
  buf[offset] = value >>> 24;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

/** Writes a u64 from a JS number; the value must be a safe non-negative integer. */
export function writeU64BE(buf: Uint8Array, offset: number, value: number): void {
  checkBounds(buf, offset, 8);
  checkValue(value, Number.MAX_SAFE_INTEGER, 'u64 (as a safe JS integer)');
  writeU32BE(buf, offset, Math.floor(value / TWO_POW_32));
  writeU32BE(buf, offset + 4, value >>> 0);
}
