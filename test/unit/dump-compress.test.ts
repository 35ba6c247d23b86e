/**
 * The compressed dump source: dumper calls as the kernel makes them from a
 * compressed stream (contiguous from 0, maxiosize each, the last padded to a
 * block), the compressed length and the progress it reports, and what each
 * release refuses to combine with encryption.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';

import { chunkCompressor, COMPRESSION_CHUNK, CompressedDumpSource, compressionRefusal } from '../../src/dump/compress.js';
import { zstdFrameLength } from '../../src/dump/decompress.js';
import { DUMP_BLOCK_SIZE, MAX_DUMP_WRITE } from '../../src/dump/source.js';
import { KERNELDUMP_COMP_GZIP, KERNELDUMP_COMP_ZSTD, KERNELDUMP_ENC_AES_256_CBC, KERNELDUMP_ENC_CHACHA20 } from '../../src/wire/index.js';
import { BufferDumpSource } from '../helpers/dump-sources.js';

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** 2.5 MiB + 5 bytes, incompressible: the compressed stream spans many dumper calls. */
function incompressible(): Buffer {
  const bytes = Buffer.alloc(2.5 * COMPRESSION_CHUNK + 5);
  let x = 0x12345678;
  for (let at = 0; at < bytes.length; at++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[at] = x & 0xff;
  }
  return bytes;
}

/** Runs the source's writes, checking the kernel's rules for each, and returns the stream and the progress seen. */
function collect(source: CompressedDumpSource): { stream: Buffer; consumed: number[]; sizes: number[] } {
  const parts: Buffer[] = [];
  const consumed: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const write of source.writes()) {
    assert.equal(write.offset, offset, 'contiguous from 0');
    assert.equal(write.data.length % DUMP_BLOCK_SIZE, 0, 'block-aligned');
    parts.push(Buffer.from(write.data));
    sizes.push(write.data.length);
    consumed.push(source.consumed);
    offset += write.data.length;
  }
  return { stream: Buffer.concat(parts), consumed, sizes };
}

test('gzip: maxiosize calls of one gzip member per MiB, the last call padded; the stream gunzips to the original', async () => {
  const original = incompressible();
  const compressor = await chunkCompressor('gzip');
  assert.equal(compressor.kdhCompression, KERNELDUMP_COMP_GZIP);
  const source = new CompressedDumpSource(new BufferDumpSource(original), compressor);
  assert.equal(source.length, original.length, 'length stays the uncompressed size');
  const { stream, consumed, sizes } = collect(source);
  const sent = source.sentLength!;
  assert.ok(sent > original.length, `incompressible data grows a little: ${sent}`);
  assert.deepEqual(sizes.slice(0, -1), Array(sizes.length - 1).fill(MAX_DUMP_WRITE));
  assert.equal(stream.length, Math.ceil(sent / DUMP_BLOCK_SIZE) * DUMP_BLOCK_SIZE);
  assert.ok(
    stream.subarray(sent).every((byte) => byte === 0),
    'the padding is zeros',
  );
  assert.deepEqual(gunzipSync(stream.subarray(0, sent)), original);
  // The stream opens with a gzip member (one per MiB: gunzip above reads them all as one stream).
  assert.equal(stream.subarray(0, 2).equals(GZIP_MAGIC), true);
  assert.deepEqual([consumed[0], consumed.at(-1)], [COMPRESSION_CHUNK, original.length]);
  assert.ok(
    consumed.every((value, index) => index === 0 || value >= consumed[index - 1]!),
    'progress never goes back',
  );
});

test('zstd: one frame per MiB (three here), and a source shorter than a MiB is one frame', async () => {
  const original = incompressible();
  const compressor = await chunkCompressor('zstd');
  assert.equal(compressor.kdhCompression, KERNELDUMP_COMP_ZSTD);
  const source = new CompressedDumpSource(new BufferDumpSource(original), compressor);
  const { stream } = collect(source);
  assert.ok(stream.subarray(0, 4).equals(ZSTD_MAGIC));
  const frames: number[] = [];
  for (let at = 0; at < source.sentLength!; at += frames.at(-1)!) frames.push(zstdFrameLength(stream, at)!.length);
  assert.equal(frames.length, 3, `frames of ${frames.join(', ')} bytes`);
  const small = new CompressedDumpSource(new BufferDumpSource(Buffer.alloc(10_000, 7)), compressor);
  const { stream: smallStream, sizes } = collect(small);
  assert.deepEqual(sizes, [DUMP_BLOCK_SIZE]);
  assert.ok(small.sentLength! < 100, `10,000 equal bytes compress to a few dozen: ${small.sentLength}`);
  assert.ok(smallStream.subarray(0, 4).equals(ZSTD_MAGIC));
});

test('what the kernel refuses with EOPNOTSUPP: 12.x any encrypted dump, 13+ AES-256-CBC only', () => {
  assert.equal(compressionRefusal('freebsd13', undefined), undefined);
  assert.equal(compressionRefusal('freebsd12', undefined), undefined);
  assert.equal(compressionRefusal('freebsd13', KERNELDUMP_ENC_CHACHA20), undefined);
  assert.match(
    compressionRefusal('freebsd13', KERNELDUMP_ENC_AES_256_CBC)!,
    /^FreeBSD 13 refuses to compress a dump encrypted with AES-256-CBC/,
  );
  assert.match(compressionRefusal('freebsd12', KERNELDUMP_ENC_AES_256_CBC)!, /^FreeBSD 12 cannot both compress and encrypt a dump/);
});
