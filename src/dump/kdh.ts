/**
 * The 512-byte kerneldumpheader for a dump, filled the way the kernel's
 * dump_init_header fills it (spec §4.1), with defaults that look like a
 * stock amd64 GENERIC kernel.
 */
import { hostname as osHostname } from 'node:os';
import {
  KERNELDUMPHEADER_SIZE,
  KERNELDUMPMAGIC,
  KERNELDUMPVERSION,
  KERNELDUMP_AMD64_VERSION,
  KERNELDUMP_COMP_NONE,
  NETDUMP_BLOCKSIZE,
  emitKerneldumpHeader,
  type KerneldumpHeaderRepr,
} from '../wire/kerneldumpheader.js';

/** Which kernel's behaviour to imitate. */
export type KernelProfile = 'freebsd12' | 'freebsd13';

/** uname -v of a 12.1 release kernel (the 12.x code the spec was checked against). */
export const FREEBSD12_VERSION_STRING = 'FreeBSD 12.1-RELEASE r354233 GENERIC\n';
export const FREEBSD13_VERSION_STRING = 'FreeBSD 13.2-RELEASE releng/13.2-n254617-525ecfdad597 GENERIC\n';
export const DEFAULT_PANIC_STRING = 'netdump test dump';

export function isFreeBSD12(profile: KernelProfile | undefined): boolean {
  return profile === 'freebsd12';
}

export function defaultVersionString(profile?: KernelProfile): string {
  return isFreeBSD12(profile) ? FREEBSD12_VERSION_STRING : FREEBSD13_VERSION_STRING;
}

export interface DumpHeaderOptions {
  /** Body bytes sent: the compressed length if compressed. */
  dumpLength: number;
  /** Uncompressed body length; defaults to dumpLength (dump_init_header sets both alike). */
  dumpExtent?: number;
  /** Seconds since the epoch; defaults to now. */
  dumpTime?: number;
  /** EKCD key blob size, 0 without encryption. */
  dumpKeySize?: number;
  /** Defaults to os.hostname(). */
  hostname?: string;
  /** The kernel `version` string; defaults by profile. A trailing "\n" is added if missing. */
  versionString?: string;
  panicString?: string;
  /** KERNELDUMP_COMP_NONE / GZIP / ZSTD. */
  compression?: number;
  profile?: KernelProfile;
}

/** The kernel's `version` always ends in a newline; keep that true for ours. */
function withTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

export function dumpHeaderRepr(options: DumpHeaderOptions): KerneldumpHeaderRepr {
  return {
    magic: KERNELDUMPMAGIC,
    architecture: 'amd64',
    version: KERNELDUMPVERSION,
    architectureVersion: KERNELDUMP_AMD64_VERSION,
    dumpLength: options.dumpLength,
    dumpTime: options.dumpTime ?? Math.floor(Date.now() / 1000),
    dumpKeySize: options.dumpKeySize ?? 0,
    blockSize: NETDUMP_BLOCKSIZE,
    hostname: options.hostname ?? osHostname(),
    versionString: withTrailingNewline(options.versionString ?? defaultVersionString(options.profile)),
    panicString: options.panicString ?? DEFAULT_PANIC_STRING,
    compression: options.compression ?? KERNELDUMP_COMP_NONE,
    dumpExtent: options.dumpExtent ?? options.dumpLength,
  };
}

/**
 * The header as 512 bytes, parity included. A version string longer than
 * the field is cut with byte 190 forced to "\n" (emitKerneldumpHeader).
 */
export function buildDumpHeader(options: DumpHeaderOptions): Uint8Array {
  const header = new Uint8Array(KERNELDUMPHEADER_SIZE);
  emitKerneldumpHeader(dumpHeaderRepr(options), header);
  return header;
}
