/**
 * Where dump bytes come from, seen the way netdump's dumper sees them: a
 * sequence of dumper calls, each block-aligned and at most maxiosize long
 * (spec §3.4).
 */
import { NetdumpError } from '../../errors/index.js';

/** netdump's dumper block size (NETDUMP_DATASIZE) and the amd64 page size. */
export const DUMP_BLOCK_SIZE = 4096;
/** netdump's maxiosize: MAXDUMPPGS × PAGE_SIZE = 16 pages (spec §3.4). */
export const MAX_DUMP_WRITE = 65536;

/** One dumper call. */
export interface DumpWrite {
  offset: number;
  data: Uint8Array;
}

export interface DumpSource {
  /** Bytes of dump body (KDH dumplength before any compression). */
  readonly length: number;
  /**
   * The dumper calls in order, as the kernel's dump code makes them: each
   * 4096-aligned in offset and length (dump_check_bounds), at most 65536
   * bytes, offsets ascending and contiguous from 0. The last call is padded
   * with zeros to 4096 if length is not a multiple. `data` may be a reused
   * buffer: valid only until the next iteration.
   */
  writes(): Iterable<DumpWrite>;
  /**
   * A source whose writes are not its `length` bytes as such (compressed):
   * how many of those bytes the writes so far stand for. Absent, the
   * writes' own lengths count.
   */
  readonly consumed?: number;
  /** After the last write, a compressed source's length as sent, padding excluded: the KDH's dumplength. */
  readonly sentLength?: number;
  /** The size of every write, where a source makes them all alike (EKCD's 4 KiB chunks). */
  readonly writeSize?: number;
}

export function roundUpToBlock(bytes: number): number {
  return Math.ceil(bytes / DUMP_BLOCK_SIZE) * DUMP_BLOCK_SIZE;
}

/**
 * The checks the kernel's dump_check_bounds makes on every dumper call
 * (offset and length multiples of the block size), plus netdump's
 * maxiosize limit. Throws EINVAL as the kernel returns it.
 */
export function assertAlignedWrite(write: DumpWrite): void {
  const { offset } = write;
  const length = write.data.length;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % DUMP_BLOCK_SIZE !== 0) {
    throw new NetdumpError('EINVAL', `Attempt to write at unaligned offset ${offset} (must be a multiple of ${DUMP_BLOCK_SIZE})`);
  }
  if (length === 0 || length % DUMP_BLOCK_SIZE !== 0) {
    throw new NetdumpError(
      'EINVAL',
      `Attempt to write partial block of length ${length} at offset ${offset} (must be a non-zero multiple of ${DUMP_BLOCK_SIZE})`,
    );
  }
  if (length > MAX_DUMP_WRITE) {
    throw new NetdumpError('EINVAL', `Attempt to write ${length} bytes at offset ${offset}, more than maxiosize ${MAX_DUMP_WRITE}`);
  }
}

/**
 * Passes a source's writes through while enforcing the whole DumpSource
 * contract: each write aligned, offsets contiguous from 0, and the writes
 * covering exactly roundUpToBlock(length). Throws EINVAL on the first
 * violation, EIO if the source ends short.
 */
export function* checkedWrites(source: DumpSource): Generator<DumpWrite> {
  let expectedOffset = 0;
  const end = roundUpToBlock(source.length);
  for (const write of source.writes()) {
    assertAlignedWrite(write);
    if (write.offset !== expectedOffset) {
      throw new NetdumpError('EINVAL', `dump write at offset ${write.offset} is not contiguous: expected offset ${expectedOffset}`);
    }
    expectedOffset += write.data.length;
    if (expectedOffset > end) {
      throw new NetdumpError('EINVAL', `dump write ends at ${expectedOffset}, past the dump's padded length ${end}`);
    }
    yield write;
  }
  if (expectedOffset !== end) {
    throw new NetdumpError('EIO', `dump source ended at ${expectedOffset} of ${end} bytes`);
  }
}
