/**
 * Reading compressed dumps back (netdump decompress, netdump inspect):
 * gzip through node:zlib's streaming gunzip (members in sequence), zstd
 * frame by frame. The WebAssembly zstd decompresses whole frames only, so
 * the stream is cut at frame boundaries by walking each frame's block
 * headers (RFC 8878 §3.1.1); a frame must say its content size, as ours
 * do. A kernel's zstd dump is one streamed frame without it, which the
 * WebAssembly build cannot take in pieces: such a file goes through
 * Debian's zstd as a child process (the error names the package if it is
 * not installed).
 *
 * A frame is refused as soon as its header shows it cannot be held, and the
 * bytes waiting for the rest of a frame are bounded by the largest frame
 * that can: a hostile or foreign stream costs at most about 65 MiB.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { Duplex, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import { NetdumpError } from '../../errors/index.js';
import { readFileHead } from './file-source.js';
import { zstdDecompress, zstdReady } from './zstd.js';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const BLOCK_HEADER_SIZE = 3;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_RESERVED = 3;
const CHECKSUM_SIZE = 4;
/** A frame's content is decompressed in memory: ours are 1 MiB; more than this is not a frame of ours. */
const MAX_FRAME_CONTENT = 64 * 2 ** 20;
/** The most a frame of at most MAX_FRAME_CONTENT can take compressed (zstd's bound, rounded up): more is refused, not buffered. */
const MAX_FRAME_BYTES = MAX_FRAME_CONTENT + MAX_FRAME_CONTENT / 128 + 2 ** 16;

const NO_CONTENT_SIZE = 'zstd: a frame after the first without a content size of at most 64 MiB: decompress it with zstd -d';
const NEEDS_ZSTD =
  "zstd: this core is one streamed frame, as a kernel writes it, which only Debian's zstd reads here: install it (apt-get install zstd)";

export type CompressionFormat = 'gzip' | 'zstd' | 'none';

/** What the first bytes of a file say it is. */
export function compressionFormat(head: Uint8Array): CompressionFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && readU32LE(head, 0) === ZSTD_MAGIC) return 'zstd';
  return 'none';
}

function readU32LE(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/** The frame's header: its size and the content size it declares (undefined when it declares none). */
function frameHeader(buf: Uint8Array, at: number): { size: number; contentSize: number | undefined } | undefined {
  if (buf.length < at + 5) return undefined;
  const descriptor = buf[at + 4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictionaryIdSize = [0, 1, 2, 4][descriptor & 3]!;
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const size = 5 + (singleSegment ? 0 : 1) + dictionaryIdSize + fcsSize;
  if (buf.length < at + size) return undefined;
  if (fcsSize === 0) return { size, contentSize: undefined };
  const fcsAt = at + size - fcsSize;
  let contentSize = 0;
  for (let byte = fcsSize - 1; byte >= 0; byte--) contentSize = contentSize * 256 + buf[fcsAt + byte]!;
  return { size, contentSize: fcsSize === 2 ? contentSize + 256 : contentSize };
}

/**
 * The length of the zstd (or skippable) frame starting at `at`, or
 * undefined if `buf` ends before it does. Throws EBADMSG on bytes that are
 * not a frame.
 */
export function zstdFrameLength(
  buf: Uint8Array,
  at: number,
  /** Where `buf` starts in the stream, for the error's byte number. */
  streamOffset = 0,
): { length: number; contentSize: number | undefined } | undefined {
  if (buf.length < at + 8) return undefined;
  const magic = readU32LE(buf, at);
  if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
    const length = 8 + readU32LE(buf, at + 4);
    return buf.length < at + length ? undefined : { length, contentSize: 0 };
  }
  if (magic !== ZSTD_MAGIC) throw new NetdumpError('EBADMSG', `zstd: no frame at byte ${streamOffset + at} (magic ${magic.toString(16)})`);
  const header = frameHeader(buf, at);
  if (header === undefined) return undefined;
  let cursor = at + header.size;
  for (;;) {
    if (buf.length < cursor + BLOCK_HEADER_SIZE) return undefined;
    const blockHeader = buf[cursor]! | (buf[cursor + 1]! << 8) | (buf[cursor + 2]! << 16);
    const last = (blockHeader & 1) !== 0;
    const type = (blockHeader >> 1) & 3;
    if (type === BLOCK_TYPE_RESERVED) throw new NetdumpError('EBADMSG', `zstd: reserved block type at byte ${cursor}`);
    cursor += BLOCK_HEADER_SIZE + (type === BLOCK_TYPE_RLE ? 1 : blockHeader >> 3);
    if (last) break;
  }
  if ((buf[at + 4]! & 0x04) !== 0) cursor += CHECKSUM_SIZE;
  return buf.length < cursor ? undefined : { length: cursor - at, contentSize: header.contentSize };
}

/**
 * Refuses a frame as soon as its first bytes show it cannot be decompressed
 * here, instead of buffering it whole first: no content size (a kernel's
 * streamed dump, as long as the dump), one too large, or a skippable frame
 * too long to hold.
 */
function refuseEarly(buf: Uint8Array, at: number): void {
  if (buf.length < at + 8) return;
  const magic = readU32LE(buf, at);
  if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
    if (readU32LE(buf, at + 4) > MAX_FRAME_BYTES)
      throw new NetdumpError('EBADMSG', `zstd: a skippable frame of ${readU32LE(buf, at + 4)} bytes at byte ${at}`);
    return;
  }
  const header = magic === ZSTD_MAGIC ? frameHeader(buf, at) : undefined;
  if (header !== undefined && (header.contentSize === undefined || header.contentSize > MAX_FRAME_CONTENT)) {
    throw new NetdumpError('EINVAL', NO_CONTENT_SIZE);
  }
}

/** Bytes waiting for the rest of their frame, in a buffer that grows by doubling (appending chunk by chunk stays linear). */
class PendingBytes {
  private buffer = Buffer.alloc(2 ** 16);
  private start = 0;
  private end = 0;

  get bytes(): Buffer {
    return this.buffer.subarray(this.start, this.end);
  }

  append(chunk: Buffer): void {
    if (this.end + chunk.length > this.buffer.length) {
      const live = this.end - this.start;
      const grown =
        live + chunk.length > this.buffer.length ? Buffer.alloc(Math.max(this.buffer.length * 2, live + chunk.length)) : this.buffer;
      this.buffer.copy(grown, 0, this.start, this.end);
      this.buffer = grown;
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.buffer, this.end);
    this.end += chunk.length;
  }

  consume(bytes: number): void {
    this.start += bytes;
    if (this.start === this.end) this.start = this.end = 0;
  }
}

/** Cuts a zstd stream into frames and decompresses each. */
class ZstdFrames extends Transform {
  private readonly pending = new PendingBytes();
  private consumed = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.pending.append(chunk);
      const bytes = this.pending.bytes;
      let at = 0;
      for (let frame = zstdFrameLength(bytes, at, this.consumed); frame !== undefined; frame = zstdFrameLength(bytes, at, this.consumed)) {
        this.decompressFrame(bytes.subarray(at, at + frame.length), frame.contentSize);
        at += frame.length;
      }
      refuseEarly(bytes, at);
      if (bytes.length - at > MAX_FRAME_BYTES) {
        throw new NetdumpError('EBADMSG', `zstd: a frame at byte ${this.consumed + at} runs past ${MAX_FRAME_BYTES} bytes`);
      }
      this.consumed += at;
      this.pending.consume(at);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    const left = this.pending.bytes.length;
    if (left === 0) return done();
    done(new NetdumpError('EBADMSG', `zstd: the stream ends inside a frame (${left} bytes after byte ${this.consumed})`));
  }

  private decompressFrame(frame: Buffer, contentSize: number | undefined): void {
    if (contentSize === 0) return;
    if (contentSize === undefined || contentSize > MAX_FRAME_CONTENT) throw new NetdumpError('EINVAL', NO_CONTENT_SIZE);
    this.push(Buffer.from(zstdDecompress(frame, { defaultHeapSize: contentSize })));
  }
}

/** A decompressing stream, and when the decompressor itself has finished (a child process exits after its output ends). */
interface Decompressor {
  transform: Duplex;
  finished: Promise<void>;
}

/** A decompressing stream for `input`, in `format`. */
async function decompressor(input: string, format: 'gzip' | 'zstd'): Promise<Decompressor> {
  if (format === 'gzip') return { transform: createGunzip(), finished: Promise.resolve() };
  if (startsWithStreamedFrame(input)) return zstdTool();
  await zstdReady();
  return { transform: new ZstdFrames(), finished: Promise.resolve() };
}

/** Whether the file's first zstd frame says no content size, or one too large to hold (a kernel's dump). */
function startsWithStreamedFrame(input: string): boolean {
  const head = readFileHead(input, 18); // the longest frame header
  const header = head.length >= 4 && readU32LE(head, 0) === ZSTD_MAGIC ? frameHeader(head, 0) : undefined;
  return header !== undefined && (header.contentSize === undefined || header.contentSize > MAX_FRAME_CONTENT);
}

/** Debian's `zstd -d` as a stream: it reads any frame in pieces, the WebAssembly build only whole ones. */
function zstdTool(): Decompressor {
  const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const finished = new Promise<void>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new NetdumpError('ENOENT', NEEDS_ZSTD) : error));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new NetdumpError('EBADMSG', `zstd -d: ${stderr.trim() || `exit status ${code}`}`)),
    );
  });
  const transform = Duplex.from({ writable: child.stdin, readable: child.stdout });
  finished.catch((error: Error) => transform.destroy(error));
  return { transform, finished };
}

/** Pipes `input` through its decompressor into `sink`; a failing child's own error is the one thrown. */
async function decompressInto(input: string, format: 'gzip' | 'zstd', sink: Writable, onData: (chunk: Buffer) => void): Promise<void> {
  const { transform, finished } = await decompressor(input, format);
  transform.on('data', onData);
  try {
    await pipeline(createReadStream(input), transform, sink);
  } catch (error) {
    await finished; // throws the child's reason (a missing zstd, a corrupt frame) rather than the broken pipe it caused
    throw error;
  }
  await finished;
}

/** Decompresses `input` into `output` (created; an existing file is an error); returns the uncompressed size. */
export async function decompressFile(input: string, output: string, format: 'gzip' | 'zstd'): Promise<number> {
  let bytes = 0;
  const sink = createWriteStream(output, { flags: 'wx', mode: 0o600 });
  let created = false;
  sink.on('open', () => (created = true));
  try {
    await decompressInto(input, format, sink, (chunk) => (bytes += chunk.length));
  } catch (error) {
    // Half a core is no core: the file this call created goes, so that the next try is not refused. The
    // failure may come before the file is open (a missing zstd): wait for the stream to settle first.
    if (!sink.closed) await new Promise<void>((settled) => sink.once('close', () => settled()));
    if (created) rmSync(output, { force: true });
    throw error;
  }
  return bytes;
}

/** Reads the first `limit` uncompressed bytes and the total uncompressed size of a compressed file. */
export async function peekDecompressed(input: string, format: 'gzip' | 'zstd', limit: number): Promise<{ head: Buffer; size: number }> {
  const head: Buffer[] = [];
  let kept = 0;
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (kept < limit) {
        head.push(chunk.subarray(0, limit - kept));
        kept += Math.min(chunk.length, limit - kept);
      }
      size += chunk.length;
      done();
    },
  });
  await decompressInto(input, format, sink, () => undefined);
  return { head: Buffer.concat(head), size };
}
