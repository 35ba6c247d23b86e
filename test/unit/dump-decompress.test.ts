/**
 * Reading zstd streams back frame by frame: frames from Debian's zstd, and
 * our compressor's output decompressed in the same process, a kernel's streamed
 * frame through Debian's zstd (the
 * WebAssembly module is loaded once: a second init() under way broke the
 * calls after it, ZSTD errors 10 and 72).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chunkCompressor, COMPRESSION_CHUNK } from '../../src/dump/compress.js';
import { decompressFile, zstdFrameLength } from '../../src/dump/decompress.js';
import { requireTool } from '../helpers/tools.js';

let dir = '';
let first: Buffer;
let second: Buffer;
const FIRST = Buffer.alloc(5000, 1);
const SECOND = Buffer.from(Array.from({ length: 70_000 }, (_, index) => (Math.imul(index, 2654435761) >>> 13) & 0xff));
/** A skippable frame (magic 0x184d2a50) of 3 bytes. */
const SKIPPABLE = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);

function zstdFrame(data: Buffer, name: string): Buffer {
  writeFileSync(path.join(dir, name), data);
  execFileSync('zstd', ['-q', '-f', '-6', path.join(dir, name), '-o', path.join(dir, `${name}.zst`)]);
  return readFileSync(path.join(dir, `${name}.zst`));
}

before(async () => {
  await requireTool('zstd', 'zstd');
  dir = mkdtempSync(path.join(tmpdir(), 'netdump-zstd-'));
  first = zstdFrame(FIRST, 'first');
  second = zstdFrame(SECOND, 'second');
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('zstd frames are cut where they end: whole frames, a skippable frame, a stream cut short, and bytes that are no frame', () => {
  const stream = Buffer.concat([first, SKIPPABLE, second]);
  assert.deepEqual(zstdFrameLength(stream, 0), { length: first.length, contentSize: 5000 });
  assert.deepEqual(zstdFrameLength(stream, first.length), { length: SKIPPABLE.length, contentSize: 0 });
  assert.deepEqual(zstdFrameLength(stream, first.length + SKIPPABLE.length), { length: second.length, contentSize: 70_000 });
  assert.equal(zstdFrameLength(stream.subarray(0, first.length - 1), 0), undefined, 'a frame cut short needs more bytes');
  assert.equal(zstdFrameLength(SKIPPABLE.subarray(0, 10), 0), undefined, 'so does a skippable frame');
  assert.throws(() => zstdFrameLength(Buffer.alloc(16, 0x41), 0), /zstd: no frame at byte 0 \(magic 41414141\)/);
});

test('decompressFile: frames in sequence are one stream; a stream cut inside a frame is an error; the output is never overwritten', async () => {
  writeFileSync(path.join(dir, 'in.zst'), Buffer.concat([first, SKIPPABLE, second]));
  assert.equal(await decompressFile(path.join(dir, 'in.zst'), path.join(dir, 'out'), 'zstd'), 75_000);
  assert.deepEqual(readFileSync(path.join(dir, 'out')), Buffer.concat([FIRST, SECOND]));
  writeFileSync(path.join(dir, 'cut.zst'), Buffer.concat([first, second]).subarray(0, first.length + second.length - 3));
  await assert.rejects(decompressFile(path.join(dir, 'cut.zst'), path.join(dir, 'cut'), 'zstd'), /the stream ends inside a frame/);
  await assert.rejects(decompressFile(path.join(dir, 'in.zst'), path.join(dir, 'out'), 'zstd'), { code: 'EEXIST' });
  // A skippable frame that claims 1 GiB is refused at its first 8 bytes, not buffered.
  writeFileSync(path.join(dir, 'huge-skip.zst'), Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0x40, 1, 2, 3]));
  await assert.rejects(
    decompressFile(path.join(dir, 'huge-skip.zst'), path.join(dir, 'huge-skip'), 'zstd'),
    /zstd: a skippable frame of 1073741824 bytes at byte 0/,
  );
});

test('our compressor and our decompressor in one process: 3 MiB through zstd frames and back', async () => {
  const compressor = await chunkCompressor('zstd');
  const original = Buffer.concat([
    Buffer.alloc(2 ** 20, 3),
    SECOND,
    Buffer.from(Array.from({ length: 2 ** 21 }, (_, index) => index % 251)),
  ]);
  const frames: Buffer[] = [];
  for (let at = 0; at < original.length; at += COMPRESSION_CHUNK)
    frames.push(Buffer.from(compressor.compress(original.subarray(at, at + COMPRESSION_CHUNK))));
  writeFileSync(path.join(dir, 'ours.zst'), Buffer.concat(frames));
  assert.equal(await decompressFile(path.join(dir, 'ours.zst'), path.join(dir, 'ours'), 'zstd'), original.length);
  assert.deepEqual(readFileSync(path.join(dir, 'ours')), original);
});

test("a frame without a content size (how a kernel streams its dump) goes through Debian's zstd; without it, the package is named", async () => {
  const streamed = execFileSync('zstd', ['-q', '-c', '-6'], { input: FIRST });
  writeFileSync(path.join(dir, 'streamed.zst'), streamed);
  assert.equal(zstdFrameLength(streamed, 0)!.contentSize, undefined);
  assert.equal(await decompressFile(path.join(dir, 'streamed.zst'), path.join(dir, 'streamed'), 'zstd'), FIRST.length);
  assert.deepEqual(readFileSync(path.join(dir, 'streamed')), FIRST);
  writeFileSync(path.join(dir, 'streamed-cut.zst'), streamed.subarray(0, streamed.length - 8));
  await assert.rejects(
    decompressFile(path.join(dir, 'streamed-cut.zst'), path.join(dir, 'streamed-cut'), 'zstd'),
    /^NetdumpError: zstd -d: .+/,
  );
  assert.equal(existsSync(path.join(dir, 'streamed-cut')), false, 'no half core is left');
  const path_ = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(
      decompressFile(path.join(dir, 'streamed.zst'), path.join(dir, 'no-tool'), 'zstd'),
      /only Debian's zstd reads here: install it \(apt-get install zstd\)$/,
    );
  } finally {
    process.env.PATH = path_;
  }
  assert.equal(existsSync(path.join(dir, 'no-tool')), false, 'no empty core is left');
});
