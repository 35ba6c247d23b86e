/** The checksum's word-at-a-time and WebAssembly paths agree with a byte-by-byte reference on every length and alignment. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { allocateSummableBuffers, finishChecksum, sumWords } from '../../src/wire/index.js';

/** RFC 1071 the slow way: big-endian 16-bit words, an odd last byte padded, carries folded. */
function referenceChecksum(bytes: Uint8Array, initial: number): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function fillPseudoRandom(buffer: Uint8Array): void {
  let seed = 12345;
  for (let i = 0; i < buffer.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    buffer[i] = seed >>> 24;
  }
}

function assertAgreesWithReference(buffer: Uint8Array): void {
  for (const offset of [0, 1, 2, 3, 34, 35]) {
    for (let length = 60; length <= 1600; length += 7) {
      const slice = buffer.subarray(offset, offset + length);
      for (const initial of [0, 0x1234, 0x2fffe]) {
        assert.equal(
          finishChecksum(sumWords(buffer, offset, offset + length, initial)),
          referenceChecksum(slice, initial),
          `offset ${offset} length ${length}`,
        );
      }
    }
  }
}

test('sumWords: the aligned fast path equals the reference for lengths 60..1600 at even and odd offsets', () => {
  const buffer = new Uint8Array(4096);
  fillPseudoRandom(buffer);
  assertAgreesWithReference(buffer);
});

test('sumWords: the WebAssembly path equals the reference for lengths 60..1600 at even and odd offsets', () => {
  const [first, second] = allocateSummableBuffers(2, 4096);
  fillPseudoRandom(first!);
  fillPseudoRandom(second!);
  assertAgreesWithReference(first!);
  assertAgreesWithReference(second!); // the second buffer starts 4096 bytes into the memory
});

test('allocateSummableBuffers: zeroed, disjoint buffers of the asked size', () => {
  const buffers = allocateSummableBuffers(3, 1514);
  assert.deepEqual(
    buffers.map((buffer) => [buffer.length, buffer.byteOffset]),
    [
      [1514, 0],
      [1514, 1520],
      [1514, 3040],
    ],
  );
  assert.ok(buffers.every((buffer) => buffer.every((byte) => byte === 0)));
  buffers[1]!.fill(0xff);
  assert.equal(buffers[0]![1513], 0);
  assert.equal(buffers[2]![0], 0);
});

test('sumWords: all-0xff data (ones-complement zero) and all-zero data', () => {
  const [wasmOnes, wasmZeros] = allocateSummableBuffers(2, 1500);
  wasmOnes!.fill(0xff);
  for (const ones of [new Uint8Array(1500).fill(0xff), wasmOnes!]) {
    assert.equal(finishChecksum(sumWords(ones, 0, ones.length)), referenceChecksum(ones, 0));
  }
  for (const zeros of [new Uint8Array(1500), wasmZeros!]) {
    assert.equal(finishChecksum(sumWords(zeros, 0, zeros.length)), 0xffff);
  }
});
