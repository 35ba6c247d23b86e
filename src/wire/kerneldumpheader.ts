/**
 * struct kerneldumpheader, version 4: 512 bytes, big-endian (spec §4.1),
 * protected by an XOR parity word (spec §4.2).
 */
import { WireError, requireLength, requireRoom, requireUint } from './errors.js';
import { readU32BE, readU64BE, readU64BigBE, readU8, writeU32BE, writeU64BE, writeU8 } from './bytes.js';

export const KERNELDUMPMAGIC = 'FreeBSD Kernel Dump';
export const TEXTDUMPMAGIC = 'FreeBSD Text Dump';
export const KERNELDUMPMAGIC_CLEARED = 'Cleared Kernel Dump';

export const KERNELDUMPVERSION = 4;
export const KERNELDUMP_TEXT_VERSION = 4;

export const KERNELDUMP_AARCH64_VERSION = 1;
export const KERNELDUMP_AMD64_VERSION = 2;
export const KERNELDUMP_ARM_VERSION = 1;
export const KERNELDUMP_I386_VERSION = 2;
export const KERNELDUMP_MIPS_VERSION = 1;
export const KERNELDUMP_POWERPC_VERSION = 1;
export const KERNELDUMP_RISCV_VERSION = 1;
export const KERNELDUMP_SPARC64_VERSION = 1;

export const KERNELDUMP_COMP_NONE = 0;
export const KERNELDUMP_COMP_GZIP = 1;
export const KERNELDUMP_COMP_ZSTD = 2;

export const KERNELDUMP_ENC_NONE = 0;
export const KERNELDUMP_ENC_AES_256_CBC = 1;
/** FreeBSD 13+ only. */
export const KERNELDUMP_ENC_CHACHA20 = 2;

/** Encryption chunk size (spec §4.4). */
export const KERNELDUMP_BUFFER_SIZE = 4096;
export const KERNELDUMP_IV_MAX_SIZE = 32;
export const KERNELDUMP_KEY_MAX_SIZE = 64;
export const KERNELDUMP_ENCKEY_MAX_SIZE = 2048;
/** The dumper block size netdump reports in `blocksize` (spec §4.1, §12 item 14). */
export const NETDUMP_BLOCKSIZE = 4096;

export const KDH_MAGIC_OFFSET = 0;
export const KDH_MAGIC_SIZE = 20;
export const KDH_ARCHITECTURE_OFFSET = 20;
export const KDH_ARCHITECTURE_SIZE = 12;
export const KDH_VERSION_OFFSET = 32;
export const KDH_ARCHITECTUREVERSION_OFFSET = 36;
export const KDH_DUMPLENGTH_OFFSET = 40;
export const KDH_DUMPTIME_OFFSET = 48;
export const KDH_DUMPKEYSIZE_OFFSET = 56;
export const KDH_BLOCKSIZE_OFFSET = 60;
export const KDH_HOSTNAME_OFFSET = 64;
export const KDH_HOSTNAME_SIZE = 64;
export const KDH_VERSIONSTRING_OFFSET = 128;
export const KDH_VERSIONSTRING_SIZE = 192;
export const KDH_PANICSTRING_OFFSET = 320;
export const KDH_PANICSTRING_SIZE = 175;
export const KDH_COMPRESSION_OFFSET = 495;
export const KDH_DUMPEXTENT_OFFSET = 496;
export const KDH_UNUSED_OFFSET = 504;
export const KDH_PARITY_OFFSET = 508;
export const KERNELDUMPHEADER_SIZE = 512;

const NEWLINE = 0x0a;

export interface KerneldumpHeaderRepr {
  magic: string;
  /** MACHINE_ARCH, e.g. "amd64". */
  architecture: string;
  version: number;
  architectureVersion: number;
  /** Body bytes actually sent (compressed length if compressed), u64. */
  dumpLength: number;
  /** Seconds since the epoch, u64. */
  dumpTime: number;
  dumpKeySize: number;
  blockSize: number;
  hostname: string;
  /** The kernel `version` string, which normally ends in "\n". */
  versionString: string;
  panicString: string;
  compression: number;
  /** Uncompressed body length, u64. */
  dumpExtent: number;
}

export interface ParsedKerneldumpHeader extends KerneldumpHeaderRepr {
  unused: number;
  parity: number;
  /** XOR of all 128 words is 0. netdumpd reports but does not reject a failure. */
  parityOk: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/**
 * XOR of the 128 big-endian 32-bit words of the header at `offset`. Emit
 * computes it with the parity field zeroed and stores it there; a header
 * whose words XOR to 0 (parity included) is intact (spec §4.2).
 */
export function kerneldumpParity(buf: Uint8Array, offset = 0): number {
  requireLength(LAYER, buf, offset + KERNELDUMPHEADER_SIZE);
  let parity = 0;
  for (let word = offset; word < offset + KERNELDUMPHEADER_SIZE; word += 4) {
    parity ^= readU32BE(buf, word);
  }
  return parity >>> 0;
}

/*
 * Field accessors on a 512-byte header at byte `at` (smoltcp's Packet
 * view), for readers that must show any header, however broken, as
 * netdumpd does (the server's info file): the caller checks first that
 * KERNELDUMPHEADER_SIZE bytes are there. The 64-bit fields come as exact
 * bigints, or as numbers that throw 'range' above 2^53.
 */
const LAYER = 'kerneldumpheader';
export const kdhVersion = (kdh: Uint8Array, at = 0): number => readU32BE(kdh, at + KDH_VERSION_OFFSET);
export const kdhArchitectureVersion = (kdh: Uint8Array, at = 0): number => readU32BE(kdh, at + KDH_ARCHITECTUREVERSION_OFFSET);
export const kdhDumpLength64 = (kdh: Uint8Array, at = 0): bigint => readU64BigBE(kdh, at + KDH_DUMPLENGTH_OFFSET);
export const kdhDumpLength = (kdh: Uint8Array, at = 0): number => readU64BE(kdh, at + KDH_DUMPLENGTH_OFFSET, LAYER, 'dumplength');
export const kdhDumpTime64 = (kdh: Uint8Array, at = 0): bigint => readU64BigBE(kdh, at + KDH_DUMPTIME_OFFSET);
export const kdhDumpTime = (kdh: Uint8Array, at = 0): number => readU64BE(kdh, at + KDH_DUMPTIME_OFFSET, LAYER, 'dumptime');
export const kdhDumpKeySize = (kdh: Uint8Array, at = 0): number => readU32BE(kdh, at + KDH_DUMPKEYSIZE_OFFSET);
export const kdhBlockSize = (kdh: Uint8Array, at = 0): number => readU32BE(kdh, at + KDH_BLOCKSIZE_OFFSET);
export const kdhCompression = (kdh: Uint8Array, at = 0): number => readU8(kdh, at + KDH_COMPRESSION_OFFSET);
export const kdhDumpExtent = (kdh: Uint8Array, at = 0): number => readU64BE(kdh, at + KDH_DUMPEXTENT_OFFSET, LAYER, 'dumpextent');
export const kdhUnused = (kdh: Uint8Array, at = 0): number => readU32BE(kdh, at + KDH_UNUSED_OFFSET);
export const kdhParity = (kdh: Uint8Array, at = 0): number => readU32BE(kdh, at + KDH_PARITY_OFFSET);

export const setKdhVersion = (kdh: Uint8Array, at: number, value: number): void => writeU32BE(kdh, at + KDH_VERSION_OFFSET, value);
export const setKdhArchitectureVersion = (kdh: Uint8Array, at: number, value: number): void =>
  writeU32BE(kdh, at + KDH_ARCHITECTUREVERSION_OFFSET, value);
export const setKdhDumpLength = (kdh: Uint8Array, at: number, value: number): void => writeU64BE(kdh, at + KDH_DUMPLENGTH_OFFSET, value);
export const setKdhDumpTime = (kdh: Uint8Array, at: number, value: number): void => writeU64BE(kdh, at + KDH_DUMPTIME_OFFSET, value);
export const setKdhDumpKeySize = (kdh: Uint8Array, at: number, value: number): void => writeU32BE(kdh, at + KDH_DUMPKEYSIZE_OFFSET, value);
export const setKdhBlockSize = (kdh: Uint8Array, at: number, value: number): void => writeU32BE(kdh, at + KDH_BLOCKSIZE_OFFSET, value);
export const setKdhCompression = (kdh: Uint8Array, at: number, value: number): void => writeU8(kdh, at + KDH_COMPRESSION_OFFSET, value);
export const setKdhDumpExtent = (kdh: Uint8Array, at: number, value: number): void => writeU64BE(kdh, at + KDH_DUMPEXTENT_OFFSET, value);
export const setKdhParity = (kdh: Uint8Array, at: number, value: number): void => writeU32BE(kdh, at + KDH_PARITY_OFFSET, value);

const STRING_FIELDS = {
  magic: [KDH_MAGIC_OFFSET, KDH_MAGIC_SIZE],
  architecture: [KDH_ARCHITECTURE_OFFSET, KDH_ARCHITECTURE_SIZE],
  hostname: [KDH_HOSTNAME_OFFSET, KDH_HOSTNAME_SIZE],
  versionString: [KDH_VERSIONSTRING_OFFSET, KDH_VERSIONSTRING_SIZE],
  panicString: [KDH_PANICSTRING_OFFSET, KDH_PANICSTRING_SIZE],
} as const;
export type KdhStringField = keyof typeof STRING_FIELDS;

/** A string field's bytes up to its first NUL, its last byte taken as the NUL, as netdumpd forces it (a view). */
export function kdhStringBytes(kdh: Uint8Array, field: KdhStringField, at = 0): Uint8Array {
  const [offset, size] = STRING_FIELDS[field];
  const bytes = kdh.subarray(at + offset, at + offset + size - 1);
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

/** A string field up to its first NUL or the field's end, as netdumpd forces termination. */
export function kdhString(kdh: Uint8Array, field: KdhStringField, at = 0): string {
  const [offset, size] = STRING_FIELDS[field];
  const bytes = kdh.subarray(at + offset, at + offset + size);
  const nul = bytes.indexOf(0);
  return decoder.decode(nul === -1 ? bytes : bytes.subarray(0, nul));
}

/**
 * strlcpy into a zeroed field: at most size - 1 bytes (whole UTF-8
 * characters), always NUL-terminated; an embedded NUL ends the string.
 * Returns true if the string did not fit.
 */
export function setKdhString(kdh: Uint8Array, at: number, field: KdhStringField, text: string): boolean {
  const [offset, size] = STRING_FIELDS[field];
  const nul = text.indexOf('\0');
  const source = nul === -1 ? text : text.slice(0, nul);
  const { read } = encoder.encodeInto(source, kdh.subarray(at + offset, at + offset + size - 1));
  return read < source.length;
}

/** Parses a header; at least 512 bytes are required, extra bytes are ignored. */
export function parseKerneldumpHeader(buf: Uint8Array): ParsedKerneldumpHeader {
  requireLength(LAYER, buf, KERNELDUMPHEADER_SIZE);
  return {
    magic: kdhString(buf, 'magic'),
    architecture: kdhString(buf, 'architecture'),
    version: kdhVersion(buf),
    architectureVersion: kdhArchitectureVersion(buf),
    dumpLength: kdhDumpLength(buf),
    dumpTime: kdhDumpTime(buf),
    dumpKeySize: kdhDumpKeySize(buf),
    blockSize: kdhBlockSize(buf),
    hostname: kdhString(buf, 'hostname'),
    versionString: kdhString(buf, 'versionString'),
    panicString: kdhString(buf, 'panicString'),
    compression: kdhCompression(buf),
    dumpExtent: kdhDumpExtent(buf),
    unused: kdhUnused(buf),
    parity: kdhParity(buf),
    parityOk: kerneldumpParity(buf) === 0,
  };
}

function validateKerneldumpHeader(repr: KerneldumpHeaderRepr): void {
  requireUint(LAYER, 'version', repr.version, 0xffff_ffff);
  requireUint(LAYER, 'architectureVersion', repr.architectureVersion, 0xffff_ffff);
  requireUint(LAYER, 'dumpLength', repr.dumpLength, Number.MAX_SAFE_INTEGER);
  requireUint(LAYER, 'dumpTime', repr.dumpTime, Number.MAX_SAFE_INTEGER);
  requireUint(LAYER, 'dumpKeySize', repr.dumpKeySize, 0xffff_ffff);
  requireUint(LAYER, 'blockSize', repr.blockSize, 0xffff_ffff);
  requireUint(LAYER, 'compression', repr.compression, 0xff);
  requireUint(LAYER, 'dumpExtent', repr.dumpExtent, Number.MAX_SAFE_INTEGER);
  for (const field of ['magic', 'architecture', 'hostname', 'versionString', 'panicString'] as const) {
    if (typeof repr[field] !== 'string') {
      throw new WireError(LAYER, 'range', `${field} must be a string`);
    }
  }
}

/**
 * Fills 512 bytes at `offset` the way dump_init_header does (spec §4.1):
 * zeroed, fields in, strings truncated with NUL termination, then parity.
 * Returns bytes written (512).
 */
export function emitKerneldumpHeader(repr: KerneldumpHeaderRepr, buf: Uint8Array, offset = 0): number {
  validateKerneldumpHeader(repr);
  requireRoom(LAYER, buf, offset, KERNELDUMPHEADER_SIZE);
  buf.fill(0, offset, offset + KERNELDUMPHEADER_SIZE);
  setKdhString(buf, offset, 'magic', repr.magic);
  setKdhString(buf, offset, 'architecture', repr.architecture);
  setKdhVersion(buf, offset, repr.version);
  setKdhArchitectureVersion(buf, offset, repr.architectureVersion);
  setKdhDumpLength(buf, offset, repr.dumpLength);
  setKdhDumpTime(buf, offset, repr.dumpTime);
  setKdhDumpKeySize(buf, offset, repr.dumpKeySize);
  setKdhBlockSize(buf, offset, repr.blockSize);
  setKdhString(buf, offset, 'hostname', repr.hostname);
  writeVersionString(buf, offset, repr.versionString);
  setKdhString(buf, offset, 'panicString', repr.panicString);
  setKdhCompression(buf, offset, repr.compression);
  setKdhDumpExtent(buf, offset, repr.dumpExtent);
  setKdhParity(buf, offset, kerneldumpParity(buf, offset));
  return KERNELDUMPHEADER_SIZE;
}

/**
 * The kernel keeps a truncated version string newline-terminated so that
 * whatever prints it next starts on its own line: byte 190 becomes "\n",
 * byte 191 stays NUL (spec §4.1).
 */
function writeVersionString(kdh: Uint8Array, at: number, text: string): void {
  if (setKdhString(kdh, at, 'versionString', text)) {
    const fieldEnd = at + KDH_VERSIONSTRING_OFFSET + KDH_VERSIONSTRING_SIZE;
    kdh[fieldEnd - 2] = NEWLINE;
    kdh[fieldEnd - 1] = 0;
  }
}
