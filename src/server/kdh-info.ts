/**
 * What netdumpd writes to the info file for a KDH (spec §6.12), read from the
 * raw 512 bytes as netdumpd reads them, so that any header, however broken,
 * gives an info block and never an exception: strings are cut at their
 * field's end, integers are printed as C's %d and %lld print them, and the
 * version field is compared without a byte swap, as netdumpd does.
 */
import {
  kerneldumpParity,
  KDH_ARCHITECTURE_OFFSET,
  KDH_ARCHITECTURE_SIZE,
  KDH_ARCHITECTUREVERSION_OFFSET,
  KDH_BLOCKSIZE_OFFSET,
  KDH_COMPRESSION_OFFSET,
  KDH_DUMPKEYSIZE_OFFSET,
  KDH_DUMPLENGTH_OFFSET,
  KDH_DUMPTIME_OFFSET,
  KDH_HOSTNAME_OFFSET,
  KDH_HOSTNAME_SIZE,
  KDH_PANICSTRING_OFFSET,
  KDH_PANICSTRING_SIZE,
  KDH_VERSION_OFFSET,
  KDH_VERSIONSTRING_OFFSET,
  KDH_VERSIONSTRING_SIZE,
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

/** A NUL-terminated string in a fixed field, the last byte forced to NUL. */
function cString(kdh: Uint8Array, offset: number, size: number): string {
  const field = kdh.subarray(offset, offset + size - 1);
  const end = field.indexOf(0);
  return Buffer.from(field.subarray(0, end < 0 ? field.length : end)).toString('latin1');
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
  const view = new DataView(kdh.buffer, kdh.byteOffset, kdh.byteLength);
  const dumpLength = view.getBigInt64(KDH_DUMPLENGTH_OFFSET);
  // netdumpd tests kdh->version without dtoh32: a big-endian 4 reads as 0x04000000 here.
  const hostOrderVersion = view.getUint32(KDH_VERSION_OFFSET, true);
  const compression = kdh[KDH_COMPRESSION_OFFSET]!;
  const lines = [
    `  Architecture: ${cString(kdh, KDH_ARCHITECTURE_OFFSET, KDH_ARCHITECTURE_SIZE)}\n`,
    `  Architecture Version: ${view.getInt32(KDH_ARCHITECTUREVERSION_OFFSET)}\n`,
    `  Dump Length: ${dumpLength}B (${dumpLength >> 20n} MB)\n`,
    `  Blocksize: ${view.getInt32(KDH_BLOCKSIZE_OFFSET)}\n`,
    ...(hostOrderVersion >= 3 ? [`  Compression: ${COMPRESSION_NAMES[compression] ?? '???'}\n`] : []),
    `  Dumptime: ${ctime(view.getBigInt64(KDH_DUMPTIME_OFFSET))}`,
    `  Hostname: ${cString(kdh, KDH_HOSTNAME_OFFSET, KDH_HOSTNAME_SIZE)}\n`,
    // The kernel's version string carries its own newline; netdumpd adds none.
    `  Version String: ${cString(kdh, KDH_VERSIONSTRING_OFFSET, KDH_VERSIONSTRING_SIZE)}`,
    `  Panic String: ${cString(kdh, KDH_PANICSTRING_OFFSET, KDH_PANICSTRING_SIZE)}\n`,
    `  Header Parity Check: ${kerneldumpParity(kdh) === 0 ? 'Pass' : 'Fail'}\n`,
  ];
  return {
    info: lines.join(''),
    dumpLength,
    encrypted: hostOrderVersion >= 2 && view.getUint32(KDH_DUMPKEYSIZE_OFFSET) !== 0,
    compressionSuffix: hostOrderVersion >= 3 ? COMPRESSION_SUFFIXES[compression] : undefined,
  };
}
