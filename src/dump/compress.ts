/**
 * Compressed dumps (dumpon -z / -Z; spec §3.4, §4.4). The kernel compresses
 * above the dumper: the dumper sees only compressed bytes, written from
 * offset 0 in maxiosize calls, the last one padded to the block size, and
 * the KDH then gives the compressed length (dumplength) and the
 * uncompressed one (dumpextent).
 *
 * Each MiB of the dump becomes one gzip member (node:zlib) or one zstd frame
 * (zstd's C library compiled to WebAssembly): gzip -d, zcat and zstd -d read
 * the concatenation as one stream, and memory stays at one chunk whatever
 * the dump's size. Both run at the level the kernel passes either
 * compressor, kern.kerneldump_gzlevel (6).
 */
import { gzipSync } from 'node:zlib';

import { KERNELDUMP_COMP_GZIP, KERNELDUMP_COMP_ZSTD, KERNELDUMP_ENC_AES_256_CBC, KERNELDUMP_ENC_NONE } from '../wire/index.js';
import { zstdCompress, zstdReady } from './zstd.js';
import { MAX_DUMP_WRITE, roundUpToBlock, type DumpSource, type DumpWrite } from './source.js';

export type CompressionName = 'gzip' | 'zstd';

/** kern.kerneldump_gzlevel's default, which the kernel hands the gzip and the zstd compressor alike. */
export const KERNEL_COMPRESSION_LEVEL = 6;
/** Uncompressed bytes per gzip member or zstd frame. */
export const COMPRESSION_CHUNK = 1 << 20;

export interface ChunkCompressor {
  name: CompressionName;
  /** The KDH's compression byte: KERNELDUMP_COMP_GZIP or KERNELDUMP_COMP_ZSTD. */
  kdhCompression: number;
  /** One self-contained gzip member or zstd frame. */
  compress(chunk: Uint8Array): Uint8Array;
}

/** The compressor for `name`; zstd's WebAssembly is instantiated once, here. */
export async function chunkCompressor(name: CompressionName): Promise<ChunkCompressor> {
  if (name === 'gzip') {
    return { name, kdhCompression: KERNELDUMP_COMP_GZIP, compress: (chunk) => gzipSync(chunk, { level: KERNEL_COMPRESSION_LEVEL }) };
  }
  await zstdReady();
  return { name, kdhCompression: KERNELDUMP_COMP_ZSTD, compress: (chunk) => zstdCompress(chunk, KERNEL_COMPRESSION_LEVEL) };
}

/**
 * The inner source's first `length` bytes compressed, as dumper calls of
 * MAX_DUMP_WRITE from offset 0, the last padded to a block. `length` stays
 * the uncompressed size (what "Dumping N MB" and the progress count);
 * `consumed` says how much of it the writes so far cover, and after the
 * last write `sentLength` is the compressed length, padding excluded.
 */
export class CompressedDumpSource implements DumpSource {
  readonly length: number;
  consumed = 0;
  sentLength: number | undefined;

  constructor(
    private readonly inner: DumpSource,
    private readonly compressor: ChunkCompressor,
  ) {
    this.length = inner.length;
  }

  *writes(): Generator<DumpWrite> {
    const chunk = new Uint8Array(COMPRESSION_CHUNK);
    const out = new OutputWrites();
    let filled = 0;
    for (const write of this.inner.writes()) {
      // The inner source pads its last write to a block: only the dump's own bytes are compressed.
      const data = write.data.subarray(0, Math.max(0, Math.min(write.data.length, this.length - write.offset)));
      for (let taken = 0; taken < data.length;) {
        const piece = data.subarray(taken, taken + COMPRESSION_CHUNK - filled);
        chunk.set(piece, filled);
        filled += piece.length;
        taken += piece.length;
        if (filled === COMPRESSION_CHUNK) {
          this.consumed = Math.min(this.length, write.offset + taken);
          yield* out.add(this.compressor.compress(chunk));
          filled = 0;
        }
      }
      this.consumed = Math.min(this.length, write.offset + write.data.length);
    }
    if (filled > 0 || out.total === 0) yield* out.add(this.compressor.compress(chunk.subarray(0, filled)));
    this.sentLength = out.total;
    yield* out.finish();
  }
}

/** Compressed bytes gathered into full MAX_DUMP_WRITE calls; the last one padded to a block. */
class OutputWrites {
  /** Compressed bytes so far. */
  total = 0;
  private readonly buffer = new Uint8Array(MAX_DUMP_WRITE);
  private pending = 0;
  private offset = 0;

  *add(bytes: Uint8Array): Generator<DumpWrite> {
    this.total += bytes.length;
    for (let taken = 0; taken < bytes.length;) {
      const piece = bytes.subarray(taken, taken + MAX_DUMP_WRITE - this.pending);
      this.buffer.set(piece, this.pending);
      this.pending += piece.length;
      taken += piece.length;
      if (this.pending === MAX_DUMP_WRITE) yield this.flush(MAX_DUMP_WRITE);
    }
  }

  *finish(): Generator<DumpWrite> {
    if (this.pending === 0) return;
    const padded = roundUpToBlock(this.pending);
    this.buffer.fill(0, this.pending, padded);
    yield this.flush(padded);
  }

  private flush(length: number): DumpWrite {
    const write = { offset: this.offset, data: this.buffer.subarray(0, length) };
    this.offset += length;
    this.pending = 0;
    return write;
  }
}

/**
 * Why the kernel would refuse to compress a dump encrypted with
 * `encryption` (a KERNELDUMP_ENC_* value; undefined: not encrypted), or
 * undefined if it would not (spec §4.4): 12.x refuses any encrypted dump
 * (set_dumper), 13+ only AES-256-CBC (dumper_create), both with EOPNOTSUPP.
 */
export function compressionRefusal(profile: 'freebsd12' | 'freebsd13', encryption: number | undefined): string | undefined {
  if (encryption === undefined || encryption === KERNELDUMP_ENC_NONE) return undefined;
  if (profile === 'freebsd12') return 'FreeBSD 12 cannot both compress and encrypt a dump (dumpon: EOPNOTSUPP)';
  if (encryption === KERNELDUMP_ENC_AES_256_CBC) {
    return 'FreeBSD 13 refuses to compress a dump encrypted with AES-256-CBC (dumpon: EOPNOTSUPP); ChaCha20 (-C chacha20, the default) may be compressed';
  }
  return undefined;
}
