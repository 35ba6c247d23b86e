/** Dump sources for tests. */
import { MAX_DUMP_WRITE, roundUpToBlock, type DumpSource, type DumpWrite } from '../../src/dump/source.js';

/** Bytes already in memory as a DumpSource: maxiosize calls, the last zero-padded to a block. */
export class BufferDumpSource implements DumpSource {
  readonly length: number;

  constructor(readonly bytes: Uint8Array) {
    this.length = bytes.length;
  }

  *writes(): Generator<DumpWrite> {
    const chunk = new Uint8Array(MAX_DUMP_WRITE);
    for (let offset = 0; offset < this.length; offset += MAX_DUMP_WRITE) {
      const piece = this.bytes.subarray(offset, offset + MAX_DUMP_WRITE);
      const padded = roundUpToBlock(piece.length);
      chunk.set(piece);
      chunk.fill(0, piece.length, padded);
      yield { offset, data: chunk.subarray(0, padded) };
    }
  }
}
