/**
 * What netdumpd writes to the info file for a KDH (spec §6.12), read from the
 * raw 512 bytes as netdumpd reads them, so that any header, however broken,
 * gives an info block and never an exception: strings are cut at their
 * field's end, integers are printed as C's %d and %lld print them, and the
 * version field is compared without a byte swap, as netdumpd does.
 */
import {
  kdhArchitectureVersion,
  kdhBlockSize,
  kdhCompression,
  kdhDumpKeySize,
  kdhDumpLength64,
  kdhDumpTime64,
  kdhStringBytes,
  kdhVersion,
  kerneldumpParity,
  KERNELDUMP_COMP_GZIP,
  KERNELDUMP_COMP_ZSTD,
} from '../wire/index.js';

const COMPRESSION_NAMES = ['none', 'gzip', 'zstd'];
const COMPRESSION_SUFFIXES: Record<number, string> = { [KERNELDUMP_COMP_GZIP]: '.gz', [KERNELDUMP_COMP_ZSTD]: '.zst' };

export interface KdhFacts {
  /** The info-file lines, each ending in a newline except where the header's own string lacks one. */
  info: string;
  /** Dump length as sent (compressed length for compressed dumps). */
  dumpLength: bigint;
  /** Rename the core to vmcore_encrypted.* (a key was sent). */
  encrypted: boolean;
  /** ".gz" or ".zst" to append to the core's name, and truncate it to dumpLength. */
  compressionSuffix: string | undefined;
}

/** A string field as netdumpd prints it: bytes to the first NUL, the field's last byte forced to NUL. */
function cString(kdh: Uint8Array, field: Parameters<typeof kdhStringBytes>[1]): string {
  return Buffer.from(kdhStringBytes(kdh, field)).toString('latin1');
}

/** C's int32_t and int64_t, which netdumpd prints with %d and %lld. */
const int32 = (value: number): number => value | 0;
const int64 = (value: bigint): bigint => BigInt.asIntN(64, value);

/** netdumpd tests kdh->version without dtoh32: on its little-endian host a big-endian 4 reads as 0x04000000. */
function versionAsNetdumpdReadsIt(version: number): number {
  return (((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24)) >>> 0;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** ctime(3) in the server's local time zone: "Thu Nov 26 06:48:32 2026\n". */
export function ctime(seconds: bigint): string {
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return '(invalid time)\n';
  const day = String(date.getDate()).padStart(2, ' ');
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${WEEKDAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${day} ${time} ${date.getFullYear()}\n`;
}

export function describeKdh(kdh: Uint8Array): KdhFacts {
  const dumpLength = int64(kdhDumpLength64(kdh));
  const hostOrderVersion = versionAsNetdumpdReadsIt(kdhVersion(kdh));
  const compression = kdhCompression(kdh);
  const lines = [
    `  Architecture: ${cString(kdh, 'architecture')}\n`,
    `  Architecture Version: ${int32(kdhArchitectureVersion(kdh))}\n`,
    `  Dump Length: ${dumpLength}B (${dumpLength >> 20n} MB)\n`,
    `  Blocksize: ${int32(kdhBlockSize(kdh))}\n`,
    ...(hostOrderVersion >= 3 ? [`  Compression: ${COMPRESSION_NAMES[compression] ?? '???'}\n`] : []),
    `  Dumptime: ${ctime(int64(kdhDumpTime64(kdh)))}`,
    `  Hostname: ${cString(kdh, 'hostname')}\n`,
    // The kernel's version string carries its own newline; netdumpd adds none.
    `  Version String: ${cString(kdh, 'versionString')}`,
    `  Panic String: ${cString(kdh, 'panicString')}\n`,
    `  Header Parity Check: ${kerneldumpParity(kdh) === 0 ? 'Pass' : 'Fail'}\n`,
  ];
  return {
    info: lines.join(''),
    dumpLength,
    encrypted: hostOrderVersion >= 2 && kdhDumpKeySize(kdh) !== 0,
    compressionSuffix: hostOrderVersion >= 3 ? COMPRESSION_SUFFIXES[compression] : undefined,
  };
}
