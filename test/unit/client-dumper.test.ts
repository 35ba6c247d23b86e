/**
 * The dumper (dumper.ts): a source's writes as the batches each profile
 * sends, exact offsets and lengths, each batch's bytes the source's at its
 * offset. 12.x sends each write; 13+ coalesces contiguous writes up to
 * 64 KiB and never cuts one; fast cuts them into batches of whole packets,
 * so that only the packet before a gap and the dump's last are short.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { batchingOf, dumpWrites, expectedBatches } from '../../src/client/dumper.js';
import { FAST, FREEBSD12, FREEBSD13, maxPayload, type Profile } from '../../src/client/profile.js';
import { EncryptedDumpSource } from '../../src/dump/ekcd.js';
import { AMD64_PAGE_DIRECTORY_PAGES, SyntheticMinidump } from '../../src/dump/minidump.js';
import type { DumpSource, DumpWrite } from '../../src/dump/source.js';
import { KERNELDUMP_ENC_AES_256_CBC } from '../../src/wire/kerneldumpheader.js';

const KiB = 1024;
/** The byte a dump holds at `offset`: every batch can be checked against it. */
const byteAt = (offset: number) => (offset * 7 + (offset >>> 12)) & 0xff;

/** The one buffer every write of sourceOf() is in, as the minidump code reuses one. */
const WRITE_BUFFER = new Uint8Array(64 * KiB);

/** Writes of the given [offset, length]s, each in WRITE_BUFFER. */
function sourceOf(writes: Array<[number, number]>): DumpSource {
  const buffer = WRITE_BUFFER;
  return {
    length: writes.reduce((sum, [, length]) => sum + length, 0),
    *writes(): Generator<DumpWrite> {
      for (const [offset, length] of writes) {
        for (let index = 0; index < length; index++) buffer[index] = byteAt(offset + index);
        yield { offset, data: buffer.subarray(0, length) };
      }
    },
  };
}

/** 200 KiB contiguous from 0 (two full writes, two pages, a full write), then a gap and one page at 1 MiB. */
const WRITES: Array<[number, number]> = [
  [0, 64 * KiB],
  [64 * KiB, 64 * KiB],
  [128 * KiB, 4 * KiB],
  [132 * KiB, 4 * KiB],
  [136 * KiB, 64 * KiB],
  [1024 * KiB, 4 * KiB],
];

/** The progress each profile counts: the bytes written so far, per write. */
const PER_WRITE = [64, 128, 132, 136, 200, 204].map((kib) => kib * KiB);

/**
 * The batches `profile` makes of WRITES at `mtu`, as [offset, length]; whether each was copied (is not in the
 * write's own buffer); and the progress counted per write.
 */
function batchesOf(profile: Profile, mtu = 1500): { batches: Array<[number, number]>; copied: boolean[]; counted: number[] } {
  const batches: Array<[number, number]> = [];
  const copied: boolean[] = [];
  const counted: number[] = [];
  const source = sourceOf(WRITES);
  const send = (offset: number, data: Uint8Array) => {
    batches.push([offset, data.length]);
    copied.push(data.buffer !== WRITE_BUFFER.buffer);
    data.forEach((byte, index) => assert.equal(byte, byteAt(offset + index), `the byte at ${offset + index}`));
  };
  const bytes = dumpWrites(source, batchingOf(profile, maxPayload(profile, mtu)), send, {
    counted: (done) => counted.push(done),
    stop: () => undefined,
  });
  assert.equal(bytes, source.length);
  return { batches, copied, counted };
}

test('12.x: a batch per write, as it comes', () => {
  assert.deepEqual(batchesOf(FREEBSD12), { batches: WRITES, copied: WRITES.map(() => false), counted: PER_WRITE });
});

test('13+: contiguous writes coalesced up to 64 KiB; a write that does not fit starts the next batch; a gap ends one', () => {
  assert.deepEqual(batchesOf(FREEBSD13), {
    batches: [
      [0, 64 * KiB],
      [64 * KiB, 64 * KiB],
      [128 * KiB, 8 * KiB],
      [136 * KiB, 64 * KiB],
      [1024 * KiB, 4 * KiB],
    ],
    copied: [false, false, true, false, true],
    counted: PER_WRITE,
  });
});

test('fast at MTU 1500: batches of 45 whole 1448-byte packets (65160 bytes) across the writes, the rest sent at the gap', () => {
  const capacity = 45 * 1448;
  assert.deepEqual(batchesOf(FAST), {
    batches: [
      [0, capacity],
      [capacity, capacity],
      [2 * capacity, capacity],
      [3 * capacity, 200 * KiB - 3 * capacity],
      [1024 * KiB, 4 * KiB],
    ],
    // The first batch lies within the first write: it is sent from there. The others span writes.
    copied: [false, true, true, true, true],
    counted: PER_WRITE,
  });
});

test('fast at MTU 9000: 4096-byte packets fill 64 KiB exactly; a write is cut where the batch is full', () => {
  assert.deepEqual(batchesOf(FAST, 9000), {
    batches: [
      [0, 64 * KiB],
      [64 * KiB, 64 * KiB],
      [128 * KiB, 64 * KiB],
      [192 * KiB, 8 * KiB],
      [1024 * KiB, 4 * KiB],
    ],
    copied: [false, false, true, true, true],
    counted: PER_WRITE,
  });
});

test('the progress is counted per write, before it is sent, whatever the batches', () => {
  for (const profile of [FREEBSD12, FREEBSD13, FAST]) assert.deepEqual(batchesOf(profile).counted, PER_WRITE, profile.name);
});

/** How many batches `profile` makes of `source` at `mtu`. */
function batchCount(source: DumpSource, profile: Profile, mtu: number): number {
  let count = 0;
  dumpWrites(source, batchingOf(profile, maxPayload(profile, mtu)), () => count++, { counted: () => undefined, stop: () => undefined });
  return count;
}

test('the batches expected up front are at least those made, and not far more, with and without EKCD', () => {
  const minidump = new SyntheticMinidump({ size: 16 * 1024 * KiB, version: 2 });
  const ekcd = { encryption: KERNELDUMP_ENC_AES_256_CBC, key: new Uint8Array(32).fill(7), iv: new Uint8Array(16).fill(9) };
  // EKCD's 4 KiB writes: 12.x sends each as a batch, 16 times as many as 64 KiB writes make.
  const sources: Array<[string, DumpSource]> = [
    ['minidump', minidump],
    ['EKCD', new EncryptedDumpSource(minidump, ekcd)],
  ];
  for (const [name, source] of sources) {
    for (const profile of [FREEBSD12, FREEBSD13, FAST]) {
      for (const mtu of [1500, 9000]) {
        const made = batchCount(source, profile, mtu);
        const expected = expectedBatches(source, batchingOf(profile, maxPayload(profile, mtu)));
        const label = `${name}, ${profile.name} at MTU ${mtu}: ${made} made, ${expected} expected`;
        assert.ok(made <= expected, label);
        assert.ok(expected - made <= 64 + AMD64_PAGE_DIRECTORY_PAGES, label);
      }
    }
  }
});
