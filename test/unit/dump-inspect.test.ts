/**
 * netdump inspect on a directory whose cores are not all whole: a core cut
 * short is reported as such and the next dump is still reported; a large
 * core is found by its name, not read; a failed decompression leaves no
 * output file behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';

import { decompressFile } from '../../src/dump/decompress.js';
import { inspectPath } from '../../src/dump/inspect.js';

let dir = '';
const INFO = 'Dump from h [198.18.0.1]\n';

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'netdump-inspect-'));
  const whole = gzipSync(Buffer.alloc(100_000, 7));
  writeFileSync(path.join(dir, 'info.h.0'), `${INFO}Dump incomplete: client timed out\n`);
  writeFileSync(path.join(dir, 'vmcore.h.0.gz'), whole.subarray(0, whole.length - 20));
  writeFileSync(path.join(dir, 'info.h.1'), `${INFO}Dump complete\n`);
  writeFileSync(path.join(dir, 'vmcore.h.1.gz'), whole);
  writeFileSync(path.join(dir, 'info.h.2'), `${INFO}Dump complete\n`);
  writeFileSync(path.join(dir, 'vmcore.h.2'), '');
  truncateSync(path.join(dir, 'vmcore.h.2'), 600 * 2 ** 20); // sparse: past what a string may hold
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('a core cut short says why it cannot be read, and the dumps after it are still reported', async () => {
  const report = await inspectPath(dir);
  assert.match(report, /^ {2}info\.h\.0: ended early: Dump incomplete: client timed out$/m);
  assert.match(report, /^ {2}core vmcore\.h\.0\.gz: \d+ bytes; cannot be read through: unexpected end of file$/m);
  assert.match(report, /^ {2}core vmcore\.h\.1\.gz: \d+ bytes, gzip, 100000 bytes uncompressed$/m);
  assert.match(report, /^ {2}core vmcore\.h\.2: 629145600 bytes, not compressed$/m);
});

test('a decompression that fails removes the file it created, so the next try is not refused', async () => {
  const output = path.join(dir, 'out');
  await assert.rejects(decompressFile(path.join(dir, 'vmcore.h.0.gz'), output, 'gzip'), /unexpected end of file/);
  assert.equal(existsSync(output), false);
  assert.equal(await decompressFile(path.join(dir, 'vmcore.h.1.gz'), output, 'gzip'), 100_000);
});

test('a core is held to the length its header announced, and the core named is the one reported', async () => {
  const header = (length: number, compression: string) =>
    `${INFO}  Dump Length: ${length}B (0 MB)\n  Blocksize: 4096\n  Compression: ${compression}\nDump complete\n`;
  const whole = gzipSync(Buffer.alloc(100_000, 7));
  writeFileSync(path.join(dir, 'info.h.3'), header(whole.length, 'gzip'));
  writeFileSync(path.join(dir, 'vmcore.h.3.gz'), whole);
  writeFileSync(path.join(dir, 'vmcore.h.3'), Buffer.alloc(100_000, 7)); // what netdump decompress makes beside it
  const named = await inspectPath(path.join(dir, 'vmcore.h.3.gz'));
  assert.match(named, /^ {2}core vmcore\.h\.3\.gz: \d+ bytes, gzip, 100000 bytes uncompressed$/m);
  assert.match(named, new RegExp(`^ {2}length: ${whole.length} bytes, the header's dump length \\(${whole.length}\\): whole$`, 'm'));
  const copy = await inspectPath(path.join(dir, 'vmcore.h.3'));
  assert.match(copy, /^ {2}core vmcore\.h\.3: 100000 bytes, not compressed$/m);
  assert.match(copy, /^ {2}length: not checked \(vmcore\.h\.3 is not the gzip core the header describes: a copy made from it\?\)$/m);

  // A plain core short of its header's length, though the server wrote "Dump complete"; a file's length in whole blocks.
  writeFileSync(path.join(dir, 'info.h.4'), header(10_000, 'none'));
  writeFileSync(path.join(dir, 'vmcore.h.4'), Buffer.alloc(8192));
  assert.match(
    await inspectPath(path.join(dir, 'info.h.4')),
    /^ {2}length: INCOMPLETE: 8192 bytes of the header's dump length \(10000\) in whole blocks$/m,
  );
  writeFileSync(path.join(dir, 'vmcore.h.4'), Buffer.alloc(12288));
  assert.match(
    await inspectPath(path.join(dir, 'info.h.4')),
    /^ {2}length: 12288 bytes, the header's dump length \(10000\) in whole blocks: whole$/m,
  );
});
