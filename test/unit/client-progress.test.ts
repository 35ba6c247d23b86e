/**
 * The kernel's progress line (blk_write's report_progress): a mark every
 * 16 MiB written, printed the first time its tenth is reached, the tenths
 * overlapping at their ends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { KernelProgress } from '../../src/client/progress.js';

const MiB = 2 ** 20;

/** The marks a dump of `total` bytes prints when blk_write is called with `chunk` bytes at a time (a page by default). */
function marks(total: number, chunk = 4096): string {
  let printed = '';
  const progress = new KernelProgress(total, (text) => (printed += text));
  for (let done = 0; done < total; done += chunk) progress.written(Math.min(chunk, total - done));
  return printed;
}

test("a 64 KiB dumper write is counted page by page, as the kernel's blk_write calls count it", () => {
  let byWrite = '';
  const progress = new KernelProgress(64 * MiB, (text) => (byWrite += text));
  for (let done = 0; done < 64 * MiB; done += 60 * 1024) progress.countWrite(Math.min(60 * 1024, 64 * MiB - done));
  assert.equal(byWrite, '..25%..50%..75%..100%');
});

test('256 MiB: a mark each 16 MiB, a tenth already seen prints nothing', () => {
  assert.equal(marks(256 * MiB), '..7%..13%..25%..32%..44%..57%..63%..75%..82%..94%');
});

test('the console of a real 13.x dump ("Dumping 257 out of 4057 MB"): a size of 257 MiB and a few pages gives the same marks', () => {
  const real13x = '..7%..13%..25%..32%..44%..56%..63%..75%..81%..94%';
  const sizes = Array.from({ length: 256 }, (_, page) => 257 * MiB + page * 4096).filter((size) => marks(size) === real13x);
  assert.ok(sizes.length > 0, `no size from 257 MiB to 258 MiB prints ${real13x}; 257 MiB prints ${marks(257 * MiB)}`);
});

test('under 16 MiB nothing is printed; exactly 16 MiB prints ..100% once', () => {
  assert.equal(marks(9 * MiB), '');
  assert.equal(marks(16 * MiB - 4096), '');
  assert.equal(marks(16 * MiB), '..100%');
  assert.equal(marks(32 * MiB), '..50%..100%');
});

test('chunks that do not divide 16 MiB: a mark at the first chunk past each 16 MiB, the counter keeping its remainder', () => {
  // 60 KiB calls: the 274th ends at 16.05 MiB of 64 (26 %); the remainder carries on to the next mark.
  assert.equal(marks(64 * MiB, 60 * 1024), '..26%..51%..76%..100%');
  assert.equal(marks(64 * MiB), '..25%..50%..75%..100%');
});
