/**
 * The dumper's side of the data stage: the dump source's writes (each
 * 4 KiB-aligned, as minidumpsys makes them) as the batches the send loop
 * puts on the wire. 12.x sends a batch per write; 13+ coalesces contiguous
 * writes into 64 KiB (spec §3.4); fast fills batches of whole packets,
 * cutting writes where a batch is full (profile.ts, `wholePacketBatches`).
 */
import { AMD64_PAGE_DIRECTORY_PAGES } from '../dump/minidump.js';
import { assertAlignedWrite, MAX_DUMP_WRITE, type DumpSource } from '../dump/source.js';
import type { Profile } from './profile.js';
import { MAX_BATCH_BYTES } from './sender.js';

export interface DataProgress {
  /** `done` bytes of the dump are counted (blk_write's count, before the write). */
  counted(done: number): void;
  stop(): void;
}

/** How the dumper makes batches of its writes. */
export interface Batching {
  /** 13+ coalesces contiguous writes; 12.x sends each as it comes. */
  coalesce: boolean;
  /** The most a batch holds. */
  capacity: number;
  /** A write that does not fit the batch fills it and goes on in the next (fast), or starts the next (13+). */
  splitWrites: boolean;
}

/** The kernels' 64 KiB; fast's the whole packets that fit in 64 KiB (profile.ts, `wholePacketBatches`). */
export function batchingOf(profile: Profile, payloadBytes: number): Batching {
  if (!profile.wholePacketBatches) return { coalesce: profile.coalesceWrites, capacity: MAX_BATCH_BYTES, splitWrites: false };
  // Whole-packet batches fill across writes: they coalesce by definition, whatever coalesceWrites says.
  return { coalesce: true, capacity: Math.floor(MAX_BATCH_BYTES / payloadBytes) * payloadBytes, splitWrites: true };
}

/** What the expected batches are counted for at most: 4 GiB of data (a compressed dump's size is its data's). */
const MAX_EXPECTED_BYTES = 2 ** 32;

/**
 * The batches dumpWrites() should make of `source`, to size what keeps
 * their times up front: one per full batch and some to spare for the
 * header's smaller writes; without coalescing (12.x), one per write: the
 * source's own size for all of them (EKCD's 4 KiB) or else maxiosize, with
 * one more for each of an amd64 minidump's page-directory pages, written
 * 4 KiB apiece.
 */
export function expectedBatches(source: DumpSource, { coalesce, capacity }: Batching): number {
  const bytes = Math.min(source.length, MAX_EXPECTED_BYTES);
  if (coalesce) return Math.ceil(bytes / capacity) + 64;
  return Math.ceil(bytes / (source.writeSize ?? MAX_DUMP_WRITE)) + 64 + AMD64_PAGE_DIRECTORY_PAGES;
}

/** The dumper: every write 4 KiB-aligned, made into batches as `batching` says. Returns the bytes written. */
export function dumpWrites(
  source: DumpSource,
  batching: Batching,
  send: (offset: number, data: Uint8Array) => void,
  progress: DataProgress,
): number {
  const { coalesce, capacity, splitWrites } = batching;
  const batch = new Uint8Array(capacity);
  let batchOffset = 0;
  let batchLength = 0;
  let bytes = 0;
  const flush = () => {
    if (batchLength > 0) send(batchOffset, batch.subarray(0, batchLength));
    batchLength = 0;
  };
  for (const write of source.writes()) {
    assertAlignedWrite(write);
    bytes += write.data.length;
    // blk_write counts a chunk before it hands it to the dumper. A compressed source says how much
    // of the dump its write stands for; the last write of a file dump is zero-padded: never count past the end.
    progress.counted(Math.min(source.length, source.consumed ?? bytes));
    if (!coalesce) {
      send(write.offset, write.data);
      continue;
    }
    const contiguous = write.offset === batchOffset + batchLength;
    if (batchLength > 0 && (!contiguous || (!splitWrites && batchLength + write.data.length > capacity))) flush();
    const { data } = write;
    for (let from = 0; from < data.length;) {
      if (batchLength === 0) batchOffset = write.offset + from;
      // A whole batch within the write goes as it is, not copied into the batch first: send() is done with it
      // when it returns.
      if (batchLength === 0 && data.length - from >= capacity) {
        send(batchOffset, from === 0 && data.length === capacity ? data : data.subarray(from, from + capacity));
        from += capacity;
        continue;
      }
      const taken = Math.min(data.length - from, capacity - batchLength);
      batch.set(taken === data.length ? data : data.subarray(from, from + taken), batchLength);
      batchLength += taken;
      from += taken;
      // A full buffer can take nothing more: it goes now (the kernel sends it at the next write).
      if (batchLength === capacity) flush();
    }
  }
  flush();
  return bytes;
}
