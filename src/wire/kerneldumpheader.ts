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
  requireLength('kerneldumpheader', buf, offset + KERNELDUMPHEADER_SIZE);
  let parity = 0;
  for (let word = offset; word < offset + KERNELDUMPHEADER_SIZE; word += 4) {
    parity ^= readU32BE(buf, word);
  }
  return parity >>> 0;
}

/*
 * Field accessors on a 512-byte header (smoltcp's Packet view), for readers
 * that must show any header, however broken, as netdumpd does (the server's
 * info file): the caller checks first that KERNELDUMPHEADER_SIZE bytes are
 * there. 64-bit fields are bigints, exact.
 */
export const kdhVersion = (kdh: Uint8Array): number => readU32BE(kdh, KDH_VERSION_OFFSET);
export const kdhArchitectureVersion = (kdh: Uint8Array): number => readU32BE(kdh, KDH_ARCHITECTUREVERSION_OFFSET);
export const kdhDumpLength64 = (kdh: Uint8Array): bigint => readU64BigBE(kdh, KDH_DUMPLENGTH_OFFSET);
export const kdhDumpTime64 = (kdh: Uint8Array): bigint => readU64BigBE(kdh, KDH_DUMPTIME_OFFSET);
export const kdhDumpKeySize = (kdh: Uint8Array): number => readU32BE(kdh, KDH_DUMPKEYSIZE_OFFSET);
export const kdhBlockSize = (kdh: Uint8Array): number => readU32BE(kdh, KDH_BLOCKSIZE_OFFSET);
export const kdhCompression = (kdh: Uint8Array): number => readU8(kdh, KDH_COMPRESSION_OFFSET);

const STRING_FIELDS = {
  architecture: [KDH_ARCHITECTURE_OFFSET, KDH_ARCHITECTURE_SIZE],
  hostname: [KDH_HOSTNAME_OFFSET, KDH_HOSTNAME_SIZE],
  versionString: [KDH_VERSIONSTRING_OFFSET, KDH_VERSIONSTRING_SIZE],
  panicString: [KDH_PANICSTRING_OFFSET, KDH_PANICSTRING_SIZE],
} as const;

/** A string field's bytes up to its first NUL, its last byte taken as the NUL, as netdumpd forces it (a view). */
export function kdhStringBytes(kdh: Uint8Array, field: keyof typeof STRING_FIELDS): Uint8Array {
  const [offset, size] = STRING_FIELDS[field];
  const bytes = kdh.subarray(offset, offset + size - 1);
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

/** Reads up to the first NUL or the field end, as netdumpd forces termination. */
function readCString(buf: Uint8Array, offset: number, size: number): string {
  const field = buf.subarray(offset, offset + size);
  const nul = field.indexOf(0);
  return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
}

/**
 * strlcpy into a zeroed field: at most size - 1 bytes (whole UTF-8
 * characters), always NUL-terminated; an embedded NUL ends the string.
 * Returns true if the string did not fit.
 */
function writeCString(buf: Uint8Array, offset: number, size: number, text: string): boolean {
  const nul = text.indexOf('\0');
  const source = nul === -1 ? text : text.slice(0, nul);
  const { read } = encoder.encodeInto(source, buf.subarray(offset, offset + size - 1));
  return read < source.length;
}

/** Parses a header; at least 512 bytes are required, extra bytes are ignored. */
export function parseKerneldumpHeader(buf: Uint8Array): ParsedKerneldumpHeader {
  requireLength('kerneldumpheader', buf, KERNELDUMPHEADER_SIZE);
  const layer = 'kerneldumpheader';
  return {
    magic: readCString(buf, KDH_MAGIC_OFFSET, KDH_MAGIC_SIZE),
    architecture: readCString(buf, KDH_ARCHITECTURE_OFFSET, KDH_ARCHITECTURE_SIZE),
    version: kdhVersion(buf),
    architectureVersion: kdhArchitectureVersion(buf),
    dumpLength: readU64BE(buf, KDH_DUMPLENGTH_OFFSET, layer, 'dumplength'),
    dumpTime: readU64BE(buf, KDH_DUMPTIME_OFFSET, layer, 'dumptime'),
    dumpKeySize: kdhDumpKeySize(buf),
    blockSize: kdhBlockSize(buf),
    hostname: readCString(buf, KDH_HOSTNAME_OFFSET, KDH_HOSTNAME_SIZE),
    versionString: readCString(buf, KDH_VERSIONSTRING_OFFSET, KDH_VERSIONSTRING_SIZE),
    panicString: readCString(buf, KDH_PANICSTRING_OFFSET, KDH_PANICSTRING_SIZE),
    compression: kdhCompression(buf),
    dumpExtent: readU64BE(buf, KDH_DUMPEXTENT_OFFSET, layer, 'dumpextent'),
    unused: readU32BE(buf, KDH_UNUSED_OFFSET),
    parity: readU32BE(buf, KDH_PARITY_OFFSET),
    parityOk: kerneldumpParity(buf) === 0,
  };
}

function validateKerneldumpHeader(repr: KerneldumpHeaderRepr): void {
  const layer = 'kerneldumpheader';
  requireUint(layer, 'version', repr.version, 0xffff_ffff);
  requireUint(layer, 'architectureVersion', repr.architectureVersion, 0xffff_ffff);
  requireUint(layer, 'dumpLength', repr.dumpLength, Number.MAX_SAFE_INTEGER);
  requireUint(layer, 'dumpTime', repr.dumpTime, Number.MAX_SAFE_INTEGER);
  requireUint(layer, 'dumpKeySize', repr.dumpKeySize, 0xffff_ffff);
  requireUint(layer, 'blockSize', repr.blockSize, 0xffff_ffff);
  requireUint(layer, 'compression', repr.compression, 0xff);
  requireUint(layer, 'dumpExtent', repr.dumpExtent, Number.MAX_SAFE_INTEGER);
  for (const field of ['magic', 'architecture', 'hostname', 'versionString', 'panicString'] as const) {
    if (typeof repr[field] !== 'string') {
      throw new WireError(layer, 'range', `${field} must be a string`);
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
  requireRoom('kerneldumpheader', buf, offset, KERNELDUMPHEADER_SIZE);
  buf.fill(0, offset, offset + KERNELDUMPHEADER_SIZE);
  writeCString(buf, offset + KDH_MAGIC_OFFSET, KDH_MAGIC_SIZE, repr.magic);
  writeCString(buf, offset + KDH_ARCHITECTURE_OFFSET, KDH_ARCHITECTURE_SIZE, repr.architecture);
  writeU32BE(buf, offset + KDH_VERSION_OFFSET, repr.version);
  writeU32BE(buf, offset + KDH_ARCHITECTUREVERSION_OFFSET, repr.architectureVersion);
  writeU64BE(buf, offset + KDH_DUMPLENGTH_OFFSET, repr.dumpLength);
  writeU64BE(buf, offset + KDH_DUMPTIME_OFFSET, repr.dumpTime);
  writeU32BE(buf, offset + KDH_DUMPKEYSIZE_OFFSET, repr.dumpKeySize);
  writeU32BE(buf, offset + KDH_BLOCKSIZE_OFFSET, repr.blockSize);
  writeCString(buf, offset + KDH_HOSTNAME_OFFSET, KDH_HOSTNAME_SIZE, repr.hostname);
  writeVersionString(buf, offset + KDH_VERSIONSTRING_OFFSET, repr.versionString);
  writeCString(buf, offset + KDH_PANICSTRING_OFFSET, KDH_PANICSTRING_SIZE, repr.panicString);
  writeU8(buf, offset + KDH_COMPRESSION_OFFSET, repr.compression);
  writeU64BE(buf, offset + KDH_DUMPEXTENT_OFFSET, repr.dumpExtent);
  writeU32BE(buf, offset + KDH_PARITY_OFFSET, kerneldumpParity(buf, offset));
  return KERNELDUMPHEADER_SIZE;
}

/**
 * The kernel keeps a truncated version string newline-terminated so that
 * whatever prints it next starts on its own line: byte 190 becomes "\n",
 * byte 191 stays NUL (spec §4.1).
 */
function writeVersionString(buf: Uint8Array, fieldOffset: number, text: string): void {
  if (writeCString(buf, fieldOffset, KDH_VERSIONSTRING_SIZE, text)) {
    buf[fieldOffset + KDH_VERSIONSTRING_SIZE - 2] = NEWLINE;
    buf[fieldOffset + KDH_VERSIONSTRING_SIZE - 1] = 0;
  }
}
