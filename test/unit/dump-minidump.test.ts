import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DUMP_BLOCK_SIZE, MAX_DUMP_WRITE, checkedWrites } from '../../src/dump/source.js';
import {
  AMD64_PAGE_DIRECTORY_PAGES,
  DEFAULT_MSGBUF_SIZE,
  MINIDUMP_MAGIC,
  SyntheticMinidump,
  countSetPages,
  minidumpSectionOffsets,
  minimumMinidumpSize,
  parseMinidumpHeader,
  planMinidumpLayout,
  setPageNumbers,
  type MinidumpOptions,
  type MinidumpVersion,
} from '../../src/dump/minidump.js';
import { assertNetdumpError } from '../helpers/assertions.js';
import { dataPageNumber, expectedDataPage, isPageSet } from '../helpers/minidump-pages.js';

const MiB = 1024 * 1024;
const VERSIONS: MinidumpVersion[] = [2, 3];

/** The whole body in memory (small dumps only) and the call lengths. */
function render(options: MinidumpOptions): { dump: SyntheticMinidump; body: Buffer; calls: number[] } {
  const dump = new SyntheticMinidump(options);
  const body = Buffer.alloc(dump.length);
  const calls: number[] = [];
  for (const write of checkedWrites(dump)) {
    body.set(write.data, write.offset);
    calls.push(write.data.length);
  }
  return { dump, body, calls };
}

/** Splits `bytes` the way blk_write splits a buffer passed by address. */
function virtualCalls(bytes: number): number[] {
  const calls: number[] = [];
  for (let left = bytes; left > 0; left -= MAX_DUMP_WRITE) calls.push(Math.min(left, MAX_DUMP_WRITE));
  return calls;
}

test('the default page-directory count covers VM_MIN_KERNEL_ADDRESS up to the GiB holding KERNBASE', () => {
  assert.equal(AMD64_PAGE_DIRECTORY_PAGES, 2047);
});

test('every write is aligned and contiguous, and the total is exactly size', () => {
  for (const version of VERSIONS) {
    const minimum = minimumMinidumpSize({ version });
    for (const size of [minimum, minimum + DUMP_BLOCK_SIZE, 16 * MiB, 16 * MiB + 3 * DUMP_BLOCK_SIZE, 40 * MiB]) {
      const dump = new SyntheticMinidump({ size, version, seed: size });
      let total = 0;
      for (const write of checkedWrites(dump)) total += write.data.length;
      assert.equal(total, size, `v${version} size ${size}`);
      assert.equal(dump.length, size);
    }
  }
});

test('small layouts work when the msgbuf and page directory are shrunk', () => {
  for (const version of VERSIONS) {
    const options = { version, msgbufSize: 4000, pageDirectoryPages: 2 } as const;
    const size = 1 * MiB;
    const { dump, body } = render({ ...options, size });
    const header = parseMinidumpHeader(body);
    assert.equal(header.msgbufSize, 4000);
    assert.equal(header.pmapSize, 2 * DUMP_BLOCK_SIZE);
    assert.equal(dump.layout.dataOffset + dump.layout.dataPages * DUMP_BLOCK_SIZE, size);
  }
});

test('header fields sit at the spec §5.1 offsets, little-endian, rest of the page zero', () => {
  for (const version of VERSIONS) {
    const { dump, body } = render({ size: 12 * MiB, version });
    const view = new DataView(body.buffer, body.byteOffset, DUMP_BLOCK_SIZE);
    assert.equal(body.subarray(0, 22).toString('latin1'), MINIDUMP_MAGIC);
    assert.ok(
      body.subarray(22, 24).every((byte) => byte === 0),
      'magic NUL-padded to 24',
    );
    assert.equal(view.getUint32(24, true), version);
    assert.equal(view.getUint32(28, true), DEFAULT_MSGBUF_SIZE);
    assert.equal(view.getUint32(32, true), dump.layout.bitmapSize);
    assert.equal(view.getUint32(32, true) % DUMP_BLOCK_SIZE, 0);
    assert.equal(view.getUint32(36, true), 2047 * 4096);
    assert.equal(view.getBigUint64(40, true), 0xfffffe0000000000n);
    assert.equal(view.getBigUint64(48, true), 0xfffff80000000000n);
    assert.equal(view.getBigUint64(56, true), 0xfffffc0000000000n);
    const fieldsEnd = version === 3 ? 68 : 64;
    if (version === 3) assert.equal(view.getUint32(64, true), DUMP_BLOCK_SIZE);
    assert.ok(
      body.subarray(fieldsEnd, DUMP_BLOCK_SIZE).every((byte) => byte === 0),
      'zeros after the struct',
    );
    // One literal check of the byte order.
    assert.deepEqual([...body.subarray(40, 48)], [0, 0, 0, 0, 0, 0xfe, 0xff, 0xff]);

    const parsed = parseMinidumpHeader(body);
    assert.equal(parsed.magic, MINIDUMP_MAGIC);
    assert.equal(parsed.version, version);
    assert.equal(parsed.dumpAvailSize, version === 3 ? DUMP_BLOCK_SIZE : 0);
    const offsets = minidumpSectionOffsets(parsed);
    assert.equal(offsets.bitmap, dump.layout.bitmapOffset);
    assert.equal(offsets.pmap, dump.layout.pmapOffset);
    assert.equal(offsets.data, dump.layout.dataOffset);
  }
});

test('parseMinidumpHeader rejects what is not an amd64 v2/v3 minidump', () => {
  const { body } = render({ size: 12 * MiB, version: 3 });
  assertNetdumpError(() => parseMinidumpHeader(body.subarray(0, 40)), 'EBADMSG');
  const badMagic = Buffer.from(body.subarray(0, DUMP_BLOCK_SIZE));
  badMagic.write('minidump FreeBSD/i386\0\0', 0, 'latin1');
  assertNetdumpError(() => parseMinidumpHeader(badMagic), 'EBADMSG', 'magic');
  const badVersion = Buffer.from(body.subarray(0, DUMP_BLOCK_SIZE));
  badVersion.writeUInt32LE(1, 24);
  assertNetdumpError(() => parseMinidumpHeader(badVersion), 'EBADMSG', 'version 1');
});

test('bitmap popcount × 4096 + metadata == size, and the body carries the same bitmap', () => {
  for (const version of VERSIONS) {
    for (const size of [9 * MiB, 24 * MiB, 64 * MiB]) {
      const { dump, body } = render({ size, version, seed: 11 });
      const { layout } = dump;
      const bitmap = body.subarray(layout.bitmapOffset, layout.bitmapOffset + layout.bitmapSize);
      assert.ok(Buffer.from(dump.bitmap).equals(bitmap));
      assert.equal(countSetPages(bitmap), layout.dataPages);
      const metadata = DUMP_BLOCK_SIZE + DEFAULT_MSGBUF_SIZE + (version === 3 ? DUMP_BLOCK_SIZE : 0) + layout.bitmapSize + layout.pmapSize;
      assert.equal(countSetPages(bitmap) * DUMP_BLOCK_SIZE + metadata, size);
      assert.equal(layout.bitmapSize * 8 >= layout.physicalPages, true);
      for (let page = layout.physicalPages; page < layout.bitmapSize * 8; page += 97) {
        assert.equal(isPageSet(bitmap, page), false, `page ${page} beyond RAM is not set`);
      }
    }
  }
});

test('the page selection has gaps and runs and depends on the seed', () => {
  const pages = (seed: number) => [...setPageNumbers(new SyntheticMinidump({ size: 24 * MiB, version: 3, seed }).bitmap)];
  const a = pages(1);
  let gaps = 0;
  let adjacent = 0;
  for (let i = 1; i < a.length; i++) {
    if (a[i]! === a[i - 1]! + 1) adjacent++;
    else gaps++;
  }
  assert.ok(gaps > 10 && adjacent > 10, `gaps ${gaps}, adjacent ${adjacent}`);
  assert.deepEqual(pages(1), a, 'same seed, same pages');
  assert.notDeepEqual(pages(2), a, 'another seed, other pages');
});

test('v3 dump_avail page: one range [0, RAM), zero-terminated', () => {
  const { dump, body } = render({ size: 12 * MiB, version: 3 });
  const page = body.subarray(dump.layout.dumpAvailOffset, dump.layout.dumpAvailOffset + DUMP_BLOCK_SIZE);
  assert.equal(page.readBigUInt64LE(0), 0n);
  assert.equal(page.readBigUInt64LE(8), BigInt(dump.layout.physicalPages * DUMP_BLOCK_SIZE));
  assert.ok(page.subarray(16).every((byte) => byte === 0));
});

test('msgbuf holds the given text, or a default with a panic message', () => {
  const text = 'panic: page fault while in kernel mode\n';
  const { dump, body } = render({ size: 12 * MiB, version: 2, msgbufText: text });
  const msgbuf = body.subarray(dump.layout.msgbufOffset, dump.layout.msgbufOffset + DEFAULT_MSGBUF_SIZE);
  assert.equal(msgbuf.subarray(0, text.length).toString(), text);
  assert.ok(msgbuf.subarray(text.length).every((byte) => byte === 0));

  const v2 = render({ size: 12 * MiB, version: 2 });
  const v2Text = v2.body
    .subarray(DUMP_BLOCK_SIZE, DUMP_BLOCK_SIZE + DEFAULT_MSGBUF_SIZE)
    .toString()
    .replace(/\0+$/, '');
  assert.match(v2Text, /^panic: netdump test dump$/m);
  assert.match(v2Text, /FreeBSD 12\.1-RELEASE/);
  assert.match(v2Text, /Dumping 12 out of 256 MB:$/);
  const v3Text = render({ size: 12 * MiB, version: 3 })
    .body.subarray(DUMP_BLOCK_SIZE, 2 * DUMP_BLOCK_SIZE)
    .toString();
  assert.match(v3Text, /FreeBSD 13\.2-RELEASE/);
});

test('write pattern of minidumpsys: header, msgbuf and bitmap at once, one 4 KiB call per PD page, data in 64 KiB', () => {
  for (const version of VERSIONS) {
    const size = 9 * MiB + 20 * DUMP_BLOCK_SIZE;
    const { dump, calls } = render({ size, version, physicalMemory: 8 * 1024 * MiB });
    const { layout } = dump;
    assert.ok(layout.bitmapSize > MAX_DUMP_WRITE, 'bitmap big enough to be split');
    const dataBytes = layout.dataPages * DUMP_BLOCK_SIZE;
    const expected = [
      DUMP_BLOCK_SIZE,
      ...virtualCalls(DEFAULT_MSGBUF_SIZE),
      ...(version === 3 ? [DUMP_BLOCK_SIZE] : []),
      ...virtualCalls(layout.bitmapSize),
      ...new Array<number>(2047).fill(DUMP_BLOCK_SIZE),
      ...virtualCalls(dataBytes),
    ];
    assert.deepEqual(calls, expected);
    assert.notEqual(dataBytes % MAX_DUMP_WRITE, 0, 'the test covers a short last data call');
  }
});

test('data pages come in ascending physical order and each identifies its page', () => {
  const seed = 42;
  const { dump, body } = render({ size: 16 * MiB, version: 3, seed });
  const pages = [...dump.dataPageNumbers()];
  assert.equal(pages.length, dump.layout.dataPages);
  for (let i = 0; i < pages.length; i++) {
    const start = dump.layout.dataOffset + i * DUMP_BLOCK_SIZE;
    const page = body.subarray(start, start + DUMP_BLOCK_SIZE);
    assert.equal(dataPageNumber(page, seed), pages[i], `data page ${i}`);
    if (i > 0) assert.ok(pages[i]! > pages[i - 1]!);
  }
  const first = body.subarray(dump.layout.dataOffset, dump.layout.dataOffset + DUMP_BLOCK_SIZE);
  // Each 64-byte line starts with its physical address XOR the seed mask.
  const other = Buffer.from(expectedDataPage(pages[0]!, seed));
  assert.ok(other.equals(first));
  assert.equal(dataPageNumber(first, seed + 1), null, 'wrong seed');
  const shifted = Buffer.concat([first.subarray(64), first.subarray(0, 64)]);
  assert.equal(dataPageNumber(shifted, seed), null, 'bytes at the wrong offset');
  const holed = Buffer.from(first);
  holed.fill(0, 1448, 2896);
  assert.equal(dataPageNumber(holed, seed), null, 'a lost packet');
  assert.equal(dataPageNumber(Buffer.alloc(DUMP_BLOCK_SIZE), seed), null, 'a zero page');
});

test('pages above 4 GiB encode their full address', () => {
  const page = 0x1_2345_6; // PA 0x123456000
  assert.equal(dataPageNumber(expectedDataPage(page, 5), 5), page);
  const highPage = 2 ** 30 + 17; // PA 4 TiB + 68 KiB
  assert.equal(dataPageNumber(expectedDataPage(highPage, 5), 5), highPage);
});

test('the same options give the same bytes', () => {
  const digest = (seed: number) => {
    const hash = createHash('sha256');
    for (const write of new SyntheticMinidump({ size: 12 * MiB, version: 2, seed }).writes()) hash.update(write.data);
    return hash.digest('hex');
  };
  assert.equal(digest(9), digest(9));
  assert.notEqual(digest(9), digest(10));
});

test('bad options fail with EINVAL', () => {
  assertNetdumpError(() => new SyntheticMinidump({ size: 16 * MiB + 100, version: 3 }), 'EINVAL', 'multiple of 4096');
  assertNetdumpError(() => new SyntheticMinidump({ size: 4 * MiB, version: 3 }), 'EINVAL', 'metadata');
  const minimum = minimumMinidumpSize({ version: 2 });
  assertNetdumpError(() => new SyntheticMinidump({ size: minimum - DUMP_BLOCK_SIZE, version: 2 }), 'EINVAL', 'metadata');
  assertNetdumpError(() => new SyntheticMinidump({ size: 16 * MiB, version: 4 as MinidumpVersion }), 'EINVAL', 'version');
  assertNetdumpError(() => new SyntheticMinidump({ size: 64 * MiB, version: 3, physicalMemory: 16 * MiB }), 'EINVAL', 'physicalMemory');
  assert.equal(planMinidumpLayout({ size: minimum, version: 2 }).dataPages, 0);
});

test('a 1 GiB dump streams fast from one 64 KiB buffer', () => {
  const started = process.hrtime.bigint();
  const dump = new SyntheticMinidump({ size: 1024 * MiB, version: 2, seed: 1 });
  const buffers = new Set<ArrayBufferLike>();
  let total = 0;
  let calls = 0;
  for (const write of dump.writes()) {
    total += write.data.length;
    calls++;
    buffers.add(write.data.buffer);
  }
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(total, 1024 * MiB);
  assert.equal(buffers.size, 1, 'every write comes from the same reused buffer');
  assert.ok(calls > 16000);
  assert.ok(elapsedMs < 2000, `took ${elapsedMs.toFixed(0)} ms`);
});
