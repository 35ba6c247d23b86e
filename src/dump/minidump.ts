/**
 * A synthetic amd64 minidump (spec §5), generated on the fly, written in the
 * same sequence of dumper calls as the kernel's minidumpsys (12.x,
 * minidump v2) or cpu_minidumpsys (13+, v3).
 *
 * Body, in order: header page; msgbuf; (v3) dump_avail page; page bitmap;
 * page-directory pages; one page per set bitmap bit in ascending physical
 * order. All minidump fields are little-endian, unlike the KDH.
 *
 * Write pattern (sys/amd64/amd64/minidump_machdep.c, blk_write and
 * blk_flush, identical in releng/12.1 and 13+): every buffer the kernel
 * passes by virtual address (header, msgbuf, dump_avail, bitmap, each PD
 * page) flushes pending data and goes out at once, split only at
 * maxiosize; each PD page is its own 4 KiB call. Data pages are mapped one
 * by one into consecutive temporary KVA and flushed only when 64 KiB have
 * accumulated (fragsz == maxdumpsz) or at the very end — physical
 * contiguity plays no part.
 */
import { NetdumpError } from '../../errors/index.js';
import { defaultVersionString } from './kdh.js';
import { DUMP_BLOCK_SIZE, MAX_DUMP_WRITE, roundUpToBlock, type DumpSource, type DumpWrite } from './source.js';

export const PAGE_SIZE = DUMP_BLOCK_SIZE;
export const MINIDUMP_MAGIC = 'minidump FreeBSD/amd64';

export const MINIDUMP_MAGIC_OFFSET = 0;
export const MINIDUMP_MAGIC_SIZE = 24;
export const MINIDUMP_VERSION_OFFSET = 24;
export const MINIDUMP_MSGBUFSIZE_OFFSET = 28;
export const MINIDUMP_BITMAPSIZE_OFFSET = 32;
export const MINIDUMP_PMAPSIZE_OFFSET = 36;
export const MINIDUMP_KERNBASE_OFFSET = 40;
export const MINIDUMP_DMAPBASE_OFFSET = 48;
export const MINIDUMP_DMAPEND_OFFSET = 56;
/** v3 only. */
export const MINIDUMP_DUMPAVAILSIZE_OFFSET = 64;
/** Bytes of struct minidumphdr that carry fields, per version. */
export const MINIDUMP_V2_HEADER_FIELDS_SIZE = 64;
export const MINIDUMP_V3_HEADER_FIELDS_SIZE = 68;

/** VM_MIN_KERNEL_ADDRESS: KV4ADDR(KPML4BASE = 508, 0, 0, 0) with 4-level paging. */
export const AMD64_KERNBASE = 0xfffffe0000000000n;
/** KERNBASE proper, where the kernel image is linked: KV4ADDR(511, 510, 0, 0). */
export const AMD64_KERNEL_IMAGE_BASE = 0xffffffff80000000n;
/** DMAP_MIN_ADDRESS / DMAP_MAX_ADDRESS: the 4 TiB direct map. */
export const AMD64_DMAP_MIN_ADDRESS = 0xfffff80000000000n;
export const AMD64_DMAP_MAX_ADDRESS = 0xfffffc0000000000n;

const ONE_GIB = 1n << 30n;
/**
 * Page-directory pages written by a stock kernel: minidumpsys writes one
 * per GiB for va from VM_MIN_KERNEL_ADDRESS while va < MAX(KERNBASE +
 * nkpt × NBPDR, kernel_vm_end). kernel_vm_end grows up from
 * VM_MIN_KERNEL_ADDRESS and stays below KERNBASE, and nkpt × 2 MiB is far
 * below 1 GiB, so the loop stops after the GiB that holds KERNBASE:
 * (KERNBASE − VM_MIN_KERNEL_ADDRESS) / 1 GiB + 1 = 2046 + 1 = 2047 pages,
 * about 8 MiB. The last GiB of KVA (0xffffffffc0000000) is not written.
 */
export const AMD64_PAGE_DIRECTORY_PAGES = Number((AMD64_KERNEL_IMAGE_BASE - AMD64_KERNBASE) / ONE_GIB) + 1;

/** MSGBUF_SIZE (32768 × 3), the default kern.msgbufsize. */
export const DEFAULT_MSGBUF_SIZE = 98304;
/** A synthetic machine has at least this much RAM. */
const MIN_PHYSICAL_PAGES = (256 * 1024 * 1024) / PAGE_SIZE;
const PAGES_PER_BITMAP_PAGE = PAGE_SIZE * 8;
const PAGES_PER_WRITE = MAX_DUMP_WRITE / PAGE_SIZE;
const WORDS_PER_PAGE = PAGE_SIZE / 4;
const TWO_POW_32 = 2 ** 32;

export type MinidumpVersion = 2 | 3;

export interface MinidumpOptions {
  /** Total bytes (KDH dumplength): a multiple of 4096, at least minimumMinidumpSize(). */
  size: number;
  /** 2 as written by FreeBSD 12, 3 (with the dump_avail page) by 13+. */
  version: MinidumpVersion;
  /** Drives the page selection and the data pattern; default 0. */
  seed?: number;
  /** Message buffer contents; default: a boot banner and a panic. */
  msgbufText?: string;
  /** kern.msgbufsize; default 96 KiB. */
  msgbufSize?: number;
  /** Default AMD64_PAGE_DIRECTORY_PAGES (2047). */
  pageDirectoryPages?: number;
  /** RAM of the pretend machine, a multiple of 4096; default the next power of two ≥ 4/3 of the data, at least 256 MiB. */
  physicalMemory?: number;
}

/** Byte offsets and sizes of each part of the body (spec §5.2). */
export interface MinidumpLayout {
  version: MinidumpVersion;
  size: number;
  msgbufOffset: number;
  /** msgbufsize in the header; the body holds round_page(msgbufSize). */
  msgbufSize: number;
  /** v3 only; 0 bytes at the bitmap's offset for v2. */
  dumpAvailOffset: number;
  dumpAvailSize: number;
  bitmapOffset: number;
  /** Page-rounded (vm_page_startup rounds vm_page_dump_size in 12.x too). */
  bitmapSize: number;
  pmapOffset: number;
  pmapSize: number;
  dataOffset: number;
  dataPages: number;
  physicalPages: number;
}

export interface MinidumpHeader {
  magic: string;
  version: number;
  msgbufSize: number;
  bitmapSize: number;
  pmapSize: number;
  kernbase: bigint;
  dmapBase: bigint;
  dmapEnd: bigint;
  /** 0 for v2, which has no such field. */
  dumpAvailSize: number;
}

function invalid(message: string): NetdumpError {
  return new NetdumpError('EINVAL', `minidump: ${message}`);
}

function requirePositiveMultipleOfPage(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0 || value % PAGE_SIZE !== 0) {
    throw invalid(`${name} ${value} must be a positive multiple of ${PAGE_SIZE}`);
  }
}

function nextPowerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, value)));
}

function defaultPhysicalPages(maxDataPages: number): number {
  return nextPowerOfTwo(Math.max(MIN_PHYSICAL_PAGES, Math.ceil((maxDataPages * 4) / 3)));
}

/** round_page of one bit per physical page. */
function bitmapBytesFor(physicalPages: number): number {
  return Math.ceil(physicalPages / PAGES_PER_BITMAP_PAGE) * PAGE_SIZE;
}

interface FixedParts {
  msgbufSize: number;
  dumpAvailSize: number;
  pmapSize: number;
}

function fixedParts(options: Omit<MinidumpOptions, 'size'>): FixedParts {
  const msgbufSize = options.msgbufSize ?? DEFAULT_MSGBUF_SIZE;
  if (!Number.isSafeInteger(msgbufSize) || msgbufSize <= 0 || msgbufSize > 0xffff_ffff) {
    throw invalid(`msgbufSize ${msgbufSize} must be a positive 32-bit integer`);
  }
  const pdPages = options.pageDirectoryPages ?? AMD64_PAGE_DIRECTORY_PAGES;
  if (!Number.isSafeInteger(pdPages) || pdPages < 0 || pdPages * PAGE_SIZE > 0xffff_ffff) {
    throw invalid(`pageDirectoryPages ${pdPages} must be a non-negative integer whose pages fit a 32-bit pmapsize`);
  }
  if (options.version !== 2 && options.version !== 3) {
    throw invalid(`version ${String(options.version)} must be 2 (FreeBSD 12) or 3 (FreeBSD 13+)`);
  }
  return {
    msgbufSize,
    dumpAvailSize: options.version === 3 ? PAGE_SIZE : 0,
    pmapSize: pdPages * PAGE_SIZE,
  };
}

function metadataBytes(parts: FixedParts, bitmapSize: number): number {
  return PAGE_SIZE + roundUpToBlock(parts.msgbufSize) + parts.dumpAvailSize + bitmapSize + parts.pmapSize;
}

/** The smallest valid `size` for these options: metadata and no data pages. */
export function minimumMinidumpSize(options: Omit<MinidumpOptions, 'size'>): number {
  const parts = fixedParts(options);
  const physicalPages = options.physicalMemory !== undefined ? options.physicalMemory / PAGE_SIZE : MIN_PHYSICAL_PAGES;
  return metadataBytes(parts, bitmapBytesFor(physicalPages));
}

/** Where everything goes for a dump of exactly options.size bytes. */
export function planMinidumpLayout(options: MinidumpOptions): MinidumpLayout {
  requirePositiveMultipleOfPage('size', options.size);
  const parts = fixedParts(options);
  const withoutBitmap = metadataBytes(parts, 0);
  let physicalPages: number;
  if (options.physicalMemory !== undefined) {
    requirePositiveMultipleOfPage('physicalMemory', options.physicalMemory);
    physicalPages = options.physicalMemory / PAGE_SIZE;
  } else {
    // An upper bound on the data pages, so the bitmap it implies always covers them.
    physicalPages = defaultPhysicalPages(Math.max(0, options.size - withoutBitmap) / PAGE_SIZE);
  }
  const bitmapSize = bitmapBytesFor(physicalPages);
  const metadata = withoutBitmap + bitmapSize;
  if (options.size < metadata) {
    throw invalid(
      `size ${options.size} is below the ${metadata} bytes of metadata (header, msgbuf, ${options.version === 3 ? 'dump_avail, ' : ''}bitmap, ${parts.pmapSize / PAGE_SIZE} page-directory pages)`,
    );
  }
  const dataPages = (options.size - metadata) / PAGE_SIZE;
  if (dataPages > physicalPages) {
    throw invalid(`size ${options.size} needs ${dataPages} data pages but physicalMemory has only ${physicalPages}`);
  }
  const msgbufOffset = PAGE_SIZE;
  const dumpAvailOffset = msgbufOffset + roundUpToBlock(parts.msgbufSize);
  const bitmapOffset = dumpAvailOffset + parts.dumpAvailSize;
  const pmapOffset = bitmapOffset + bitmapSize;
  return {
    version: options.version,
    size: options.size,
    msgbufOffset,
    msgbufSize: parts.msgbufSize,
    dumpAvailOffset,
    dumpAvailSize: parts.dumpAvailSize,
    bitmapOffset,
    bitmapSize,
    pmapOffset,
    pmapSize: parts.pmapSize,
    dataOffset: pmapOffset + parts.pmapSize,
    dataPages,
    physicalPages,
  };
}

// ---------------------------------------------------------------------------
// Header

/** The first body page: struct minidumphdr followed by zeros (spec §5.1). */
export function encodeMinidumpHeader(layout: MinidumpLayout): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  new TextEncoder().encodeInto(MINIDUMP_MAGIC, page.subarray(MINIDUMP_MAGIC_OFFSET, MINIDUMP_MAGIC_SIZE - 1));
  view.setUint32(MINIDUMP_VERSION_OFFSET, layout.version, true);
  view.setUint32(MINIDUMP_MSGBUFSIZE_OFFSET, layout.msgbufSize, true);
  view.setUint32(MINIDUMP_BITMAPSIZE_OFFSET, layout.bitmapSize, true);
  view.setUint32(MINIDUMP_PMAPSIZE_OFFSET, layout.pmapSize, true);
  view.setBigUint64(MINIDUMP_KERNBASE_OFFSET, AMD64_KERNBASE, true);
  view.setBigUint64(MINIDUMP_DMAPBASE_OFFSET, AMD64_DMAP_MIN_ADDRESS, true);
  view.setBigUint64(MINIDUMP_DMAPEND_OFFSET, AMD64_DMAP_MAX_ADDRESS, true);
  if (layout.version === 3) {
    view.setUint32(MINIDUMP_DUMPAVAILSIZE_OFFSET, layout.dumpAvailSize, true);
  }
  return page;
}

/** Parses struct minidumphdr from the start of a vmcore. Throws EBADMSG if it is not an amd64 v2/v3 minidump. */
export function parseMinidumpHeader(buf: Uint8Array): MinidumpHeader {
  if (buf.length < MINIDUMP_V2_HEADER_FIELDS_SIZE) {
    throw new NetdumpError('EBADMSG', `minidump: header needs ${MINIDUMP_V2_HEADER_FIELDS_SIZE} bytes, have ${buf.length}`);
  }
  const magicField = buf.subarray(MINIDUMP_MAGIC_OFFSET, MINIDUMP_MAGIC_SIZE);
  const nul = magicField.indexOf(0);
  const magic = new TextDecoder().decode(nul === -1 ? magicField : magicField.subarray(0, nul));
  if (magic !== MINIDUMP_MAGIC) {
    throw new NetdumpError('EBADMSG', `minidump: magic is ${JSON.stringify(magic)}, expected ${JSON.stringify(MINIDUMP_MAGIC)}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = view.getUint32(MINIDUMP_VERSION_OFFSET, true);
  if (version !== 2 && version !== 3) {
    throw new NetdumpError('EBADMSG', `minidump: version ${version}, expected 2 or 3`);
  }
  if (version === 3 && buf.length < MINIDUMP_V3_HEADER_FIELDS_SIZE) {
    throw new NetdumpError('EBADMSG', `minidump: a v3 header needs ${MINIDUMP_V3_HEADER_FIELDS_SIZE} bytes, have ${buf.length}`);
  }
  return {
    magic,
    version,
    msgbufSize: view.getUint32(MINIDUMP_MSGBUFSIZE_OFFSET, true),
    bitmapSize: view.getUint32(MINIDUMP_BITMAPSIZE_OFFSET, true),
    pmapSize: view.getUint32(MINIDUMP_PMAPSIZE_OFFSET, true),
    kernbase: view.getBigUint64(MINIDUMP_KERNBASE_OFFSET, true),
    dmapBase: view.getBigUint64(MINIDUMP_DMAPBASE_OFFSET, true),
    dmapEnd: view.getBigUint64(MINIDUMP_DMAPEND_OFFSET, true),
    dumpAvailSize: version === 3 ? view.getUint32(MINIDUMP_DUMPAVAILSIZE_OFFSET, true) : 0,
  };
}

/** Body offsets implied by a parsed header, for reading a received vmcore. */
export function minidumpSectionOffsets(header: MinidumpHeader): {
  msgbuf: number;
  dumpAvail: number;
  bitmap: number;
  pmap: number;
  data: number;
} {
  const msgbuf = PAGE_SIZE;
  const dumpAvail = msgbuf + roundUpToBlock(header.msgbufSize);
  const bitmap = dumpAvail + roundUpToBlock(header.dumpAvailSize);
  const pmap = bitmap + roundUpToBlock(header.bitmapSize);
  return { msgbuf, dumpAvail, bitmap, pmap, data: pmap + header.pmapSize };
}

// ---------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: a tiny seeded PRNG; quality is beside the point, determinism is. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  };
}

function randomU32(random: () => number): number {
  return Math.floor(random() * TWO_POW_32) >>> 0;
}

// ---------------------------------------------------------------------------
// Page bitmap: bit k, LSB first within little-endian 64-bit words (which is
// LSB first within bytes), set <=> physical page k is in the dump.

function setPageRange(bitmap: Uint8Array, first: number, count: number): void {
  let page = first;
  const end = first + count;
  while (page < end && (page & 7) !== 0) {
    bitmap[page >>> 3]! |= 1 << (page & 7);
    page++;
  }
  const wholeBytesEnd = page + ((end - page) & ~7);
  bitmap.fill(0xff, page >>> 3, wholeBytesEnd >>> 3);
  for (page = wholeBytesEnd; page < end; page++) {
    bitmap[page >>> 3]! |= 1 << (page & 7);
  }
}

const BITS_IN_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let value = byte; value !== 0; value &= value - 1) bits++;
  return bits;
});

export function countSetPages(bitmap: Uint8Array): number {
  let count = 0;
  for (const byte of bitmap) count += BITS_IN_BYTE[byte]!;
  return count;
}

/** Page numbers of the set bits, ascending: the order of the data pages in the body. */
export function* setPageNumbers(bitmap: Uint8Array): Generator<number> {
  for (let index = 0; index < bitmap.length; index++) {
    const byte = bitmap[index]!;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((byte & (1 << bit)) !== 0) yield index * 8 + bit;
    }
  }
}

/** Mean length of a run of dumped pages; holes between runs scale to fit. */
const MEAN_RUN_PAGES = 16;

/**
 * Picks exactly `dataPages` of `physicalPages` in alternating random holes
 * and runs, so the dump has both contiguous stretches and gaps. Unused
 * hole budget ends up above the last page, as free memory at the top would.
 */
export function buildPageBitmap(physicalPages: number, dataPages: number, bitmapSize: number, seed = 0): Uint8Array {
  if (dataPages > physicalPages || bitmapSize * 8 < physicalPages) {
    throw invalid(`cannot place ${dataPages} pages among ${physicalPages} in a ${bitmapSize}-byte bitmap`);
  }
  const bitmap = new Uint8Array(bitmapSize);
  const random = seededRandom(seed ^ 0x5eed_b175);
  let holesLeft = physicalPages - dataPages;
  let pagesLeft = dataPages;
  const meanHole = dataPages === 0 ? 0 : (MEAN_RUN_PAGES * holesLeft) / dataPages;
  let page = 0;
  while (pagesLeft > 0) {
    const hole = Math.min(holesLeft, Math.floor(random() * (2 * meanHole + 1)));
    page += hole;
    holesLeft -= hole;
    const run = Math.min(pagesLeft, 1 + Math.floor(random() * (2 * MEAN_RUN_PAGES - 1)));
    setPageRange(bitmap, page, run);
    page += run;
    pagesLeft -= run;
  }
  return bitmap;
}

// ---------------------------------------------------------------------------
// Data page pattern. A page is 64 lines of 64 bytes. Each line opens with
// an 8-byte little-endian word holding the line's own physical address XOR
// a seed-derived mask; the other 56 bytes are seed-derived filler that
// depends only on the offset in the page. Any stretch of 64 bytes or more
// that lands in the wrong page, at the wrong offset, or not at all (a hole
// of zeros) therefore shows. The filler is a template copied natively, so
// JavaScript stores only 128 words per page.

export interface DataPatternMask {
  low: number;
  high: number;
  filler: number;
}

const PATTERN_LINE_BYTES = 64;
const PATTERN_LINE_WORDS = PATTERN_LINE_BYTES / 4;

export function dataPatternMask(seed = 0): DataPatternMask {
  const random = seededRandom(seed ^ 0xda7a_0001);
  return { low: randomU32(random), high: randomU32(random), filler: randomU32(random) };
}

export function fillerTemplate(mask: DataPatternMask): Uint32Array {
  const words = new Uint32Array(WORDS_PER_PAGE);
  for (let word = 0; word < WORDS_PER_PAGE; word++) {
    words[word] = Math.imul(word, 0x9e3779b1) ^ mask.filler;
  }
  return words;
}

function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new NetdumpError('EINVAL', 'minidump: the synthetic generator needs a little-endian host');
  }
}

/** Writes page `pageNumber`'s pattern as 1024 u32 words from `firstWord` (host must be little-endian). */
export function fillDataPage(
  words: Uint32Array,
  firstWord: number,
  pageNumber: number,
  mask: DataPatternMask,
  template: Uint32Array,
): void {
  words.set(template, firstWord);
  // The page address has its low 12 bits clear, so adding the line offset
  // is an XOR.
  const lowBase = ((pageNumber % 0x100000) * PAGE_SIZE) ^ mask.low;
  const high = Math.floor(pageNumber / 0x100000) ^ mask.high;
  for (let word = 0; word < WORDS_PER_PAGE; word += PATTERN_LINE_WORDS) {
    words[firstWord + word] = lowBase ^ (word * 4);
    words[firstWord + word + 1] = high;
  }
}

// ---------------------------------------------------------------------------
// Message buffer and dump_avail

function defaultMsgbufText(layout: MinidumpLayout): string {
  const banner = defaultVersionString(layout.version === 2 ? 'freebsd12' : 'freebsd13').trimEnd();
  const memoryMiB = (layout.physicalPages * PAGE_SIZE) / 1048576;
  return [
    '---<<BOOT>>---',
    'Copyright (c) 1992-2023 The FreeBSD Project.',
    'Copyright (c) 1979, 1980, 1983, 1986, 1988, 1989, 1991, 1992, 1993, 1994',
    '\tThe Regents of the University of California. All rights reserved.',
    'FreeBSD is a registered trademark of The FreeBSD Foundation.',
    `${banner} amd64`,
    `real memory  = ${layout.physicalPages * PAGE_SIZE} (${memoryMiB} MB)`,
    'netdump test host: synthetic minidump generated in userspace',
    'panic: netdump test dump',
    'cpuid = 0',
    'time = 1700000000',
    'KDB: stack backtrace:',
    'db_trace_self_wrapper() at db_trace_self_wrapper+0x2b/frame 0xfffffe00c59b1a30',
    'vpanic() at vpanic+0x17f/frame 0xfffffe00c59b1a80',
    'panic() at panic+0x43/frame 0xfffffe00c59b1ae0',
    'kdb_sysctl_panic() at kdb_sysctl_panic+0x61/frame 0xfffffe00c59b1b10',
    'sysctl_root_handler_locked() at sysctl_root_handler_locked+0x9c/frame 0xfffffe00c59b1b60',
    'Uptime: 1h2m3s',
    `Dumping ${Math.floor(layout.size / 1048576)} out of ${memoryMiB} MB:`,
  ].join('\n');
}

/** round_page(msgbufsize) bytes: the text at the start, zeros after; a long text keeps its tail, as the ring would. */
function buildMsgbuf(layout: MinidumpLayout, text: string): Uint8Array {
  const msgbuf = new Uint8Array(roundUpToBlock(layout.msgbufSize));
  const bytes = new TextEncoder().encode(text);
  msgbuf.set(bytes.subarray(Math.max(0, bytes.length - layout.msgbufSize)));
  return msgbuf;
}

/** One zero-terminated pair: all of RAM, so that bit k is page k in v3 too. */
function buildDumpAvailPage(layout: MinidumpLayout): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  view.setBigUint64(0, 0n, true);
  view.setBigUint64(8, BigInt(layout.physicalPages * PAGE_SIZE), true);
  return page;
}

// ---------------------------------------------------------------------------
// The source

export class SyntheticMinidump implements DumpSource {
  readonly length: number;
  readonly layout: MinidumpLayout;
  readonly seed: number;
  readonly bitmap: Uint8Array;
  private readonly metadata: Uint8Array[];

  constructor(options: MinidumpOptions) {
    assertLittleEndianHost();
    this.layout = planMinidumpLayout(options);
    this.length = this.layout.size;
    this.seed = options.seed ?? 0;
    this.bitmap = buildPageBitmap(this.layout.physicalPages, this.layout.dataPages, this.layout.bitmapSize, this.seed);
    const msgbuf = buildMsgbuf(this.layout, options.msgbufText ?? defaultMsgbufText(this.layout));
    this.metadata = [encodeMinidumpHeader(this.layout), msgbuf];
    if (this.layout.version === 3) this.metadata.push(buildDumpAvailPage(this.layout));
    this.metadata.push(this.bitmap);
  }

  /** Physical page numbers of the data pages, in body order. */
  dataPageNumbers(): Iterable<number> {
    return setPageNumbers(this.bitmap);
  }

  *writes(): Generator<DumpWrite> {
    const chunk = new Uint8Array(MAX_DUMP_WRITE);
    let offset = 0;
    // Header, msgbuf, dump_avail, bitmap: blk_write by virtual address,
    // split at maxiosize and sent at once.
    for (const part of this.metadata) {
      for (let start = 0; start < part.length; start += MAX_DUMP_WRITE) {
        const piece = part.subarray(start, start + MAX_DUMP_WRITE);
        chunk.set(piece);
        yield { offset, data: chunk.subarray(0, piece.length) };
        offset += piece.length;
      }
    }
    // Page-directory pages: each blk_write + blk_flush, so one 4 KiB call
    // apiece. Ours are the zero page the kernel writes for an invalid PDPE.
    for (let written = 0; written < this.layout.pmapSize; written += PAGE_SIZE) {
      chunk.fill(0, 0, PAGE_SIZE);
      yield { offset, data: chunk.subarray(0, PAGE_SIZE) };
      offset += PAGE_SIZE;
    }
    yield* this.dataWrites(chunk, offset);
  }

  /** Data pages gathered into 64 KiB calls regardless of physical gaps; the remainder at the end. */
  private *dataWrites(chunk: Uint8Array, startOffset: number): Generator<DumpWrite> {
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset, MAX_DUMP_WRITE / 4);
    const mask = dataPatternMask(this.seed);
    const template = fillerTemplate(mask);
    let offset = startOffset;
    let pagesInChunk = 0;
    const bitmap = this.bitmap;
    for (let index = 0; index < bitmap.length; index++) {
      const byte = bitmap[index]!;
      if (byte === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((byte & (1 << bit)) === 0) continue;
        fillDataPage(words, pagesInChunk * WORDS_PER_PAGE, index * 8 + bit, mask, template);
        if (++pagesInChunk === PAGES_PER_WRITE) {
          yield { offset, data: chunk };
          offset += MAX_DUMP_WRITE;
          pagesInChunk = 0;
        }
      }
    }
    if (pagesInChunk > 0) {
      yield { offset, data: chunk.subarray(0, pagesInChunk * PAGE_SIZE) };
    }
  }
}
