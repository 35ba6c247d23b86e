import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DUMP_BLOCK_SIZE,
  MAX_DUMP_WRITE,
  assertAlignedWrite,
  checkedWrites,
  type DumpSource,
  type DumpWrite,
} from '../../src/dump/source.js';
import { BufferDumpSource } from '../helpers/dump-sources.js';
import { FileDumpSource, openFileDumpSource } from '../../src/dump/file-source.js';
import { assertNetdumpError } from '../helpers/assertions.js';

/** Offsets and lengths of every write, plus the bytes laid out at their offsets. */
function collect(source: DumpSource): { calls: Array<[number, number]>; bytes: Buffer } {
  const calls: Array<[number, number]> = [];
  const bytes = Buffer.alloc(Math.ceil(source.length / DUMP_BLOCK_SIZE) * DUMP_BLOCK_SIZE);
  for (const write of checkedWrites(source)) {
    calls.push([write.offset, write.data.length]);
    bytes.set(write.data, write.offset);
  }
  return { calls, bytes };
}

function patterned(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + (i >>> 12)) & 0xff;
  return bytes;
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'dump-source-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const write = (offset: number, length: number): DumpWrite => ({ offset, data: new Uint8Array(length) });

test('assertAlignedWrite accepts block-aligned writes up to maxiosize', () => {
  assertAlignedWrite(write(0, DUMP_BLOCK_SIZE));
  assertAlignedWrite(write(8192, MAX_DUMP_WRITE));
  assertAlignedWrite(write(2 ** 40, 12288));
});

test('assertAlignedWrite rejects what dump_check_bounds rejects, with EINVAL', () => {
  assertNetdumpError(() => assertAlignedWrite(write(512, DUMP_BLOCK_SIZE)), 'EINVAL', 'unaligned offset 512');
  assertNetdumpError(() => assertAlignedWrite(write(-4096, DUMP_BLOCK_SIZE)), 'EINVAL');
  assertNetdumpError(() => assertAlignedWrite(write(0, 100)), 'EINVAL', 'partial block of length 100');
  assertNetdumpError(() => assertAlignedWrite(write(0, 0)), 'EINVAL');
  assertNetdumpError(() => assertAlignedWrite(write(0, MAX_DUMP_WRITE + DUMP_BLOCK_SIZE)), 'EINVAL', 'maxiosize');
});

test('checkedWrites rejects gaps and short sources', () => {
  const gappy: DumpSource = { length: 8192, writes: () => [write(0, 4096), write(8192, 4096)] };
  assertNetdumpError(() => [...checkedWrites(gappy)], 'EINVAL', 'not contiguous');
  const short: DumpSource = { length: 12288, writes: () => [write(0, 4096)] };
  assertNetdumpError(() => [...checkedWrites(short)], 'EIO');
  const long: DumpSource = { length: 4096, writes: () => [write(0, 8192)] };
  assertNetdumpError(() => [...checkedWrites(long)], 'EINVAL', 'past');
});

test('BufferDumpSource: 64 KiB calls, last padded with zeros', () => {
  const bytes = patterned(MAX_DUMP_WRITE + 5000);
  const { calls, bytes: laidOut } = collect(new BufferDumpSource(bytes));
  assert.deepEqual(calls, [
    [0, MAX_DUMP_WRITE],
    [MAX_DUMP_WRITE, 8192],
  ]);
  assert.ok(laidOut.subarray(0, bytes.length).equals(bytes));
  assert.ok(laidOut.subarray(bytes.length).every((byte) => byte === 0));
});

test('FileDumpSource reads a non-multiple-of-4096 file in 64 KiB calls, last zero-padded', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'vmcore.0');
    const contents = patterned(3 * MAX_DUMP_WRITE + 5000);
    writeFileSync(file, contents);
    const source = openFileDumpSource(file);
    assert.ok(source instanceof FileDumpSource);
    assert.equal(source.length, contents.length);
    const { calls, bytes } = collect(source);
    assert.deepEqual(calls, [
      [0, MAX_DUMP_WRITE],
      [MAX_DUMP_WRITE, MAX_DUMP_WRITE],
      [2 * MAX_DUMP_WRITE, MAX_DUMP_WRITE],
      [3 * MAX_DUMP_WRITE, 8192],
    ]);
    assert.ok(bytes.subarray(0, contents.length).equals(contents));
    assert.ok(
      bytes.subarray(contents.length).every((byte) => byte === 0),
      'padding is zeros',
    );
    // A second pass gives the same bytes (a retried dump).
    assert.ok(collect(source).bytes.equals(bytes));
  });
});

test('FileDumpSource reuses one buffer and handles an exact multiple', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'exact');
    writeFileSync(file, patterned(2 * MAX_DUMP_WRITE));
    const buffers = new Set<ArrayBufferLike>();
    const calls: number[] = [];
    for (const { data } of new FileDumpSource(file).writes()) {
      buffers.add(data.buffer);
      calls.push(data.length);
    }
    assert.deepEqual(calls, [MAX_DUMP_WRITE, MAX_DUMP_WRITE]);
    assert.equal(buffers.size, 1);
  });
});

test('FileDumpSource errors name the file', () => {
  withTempDir((dir) => {
    const missing = path.join(dir, 'no-such-vmcore');
    assertNetdumpError(() => new FileDumpSource(missing), 'ENOENT', missing);
    assertNetdumpError(() => new FileDumpSource(path.join(dir, 'x', 'y')), 'ENOENT');
    assertNetdumpError(() => new FileDumpSource(dir), 'EINVAL', `${dir} is a directory`);
    assertNetdumpError(() => new FileDumpSource('/dev/null'), 'EINVAL', 'character device');
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    assertNetdumpError(() => new FileDumpSource(empty), 'EINVAL', `${empty} is empty`);
  });
});

test('FileDumpSource reports EIO when the file shrinks mid-dump', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'shrinking');
    writeFileSync(file, patterned(3 * MAX_DUMP_WRITE));
    const source = new FileDumpSource(file);
    truncateSync(file, MAX_DUMP_WRITE + 10);
    assertNetdumpError(() => [...source.writes()], 'EIO', 'shrank');
  });
});
