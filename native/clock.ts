/**
 * CLOCK_MONOTONIC in microseconds, read without allocating (native/clock.c).
 * performance.now() returns a new heap number on every call; the fast
 * profile's busy poll reads the clock millions of times a dump, and those
 * numbers were a young-generation collection every ~50 ms.
 */
import { addon } from './addon.js';

const cellBuffer = addon.clockCell();
const cell = new Float64Array(cellBuffer.buffer, cellBuffer.byteOffset, 1);

export function monotonicMicros(): number {
  addon.readClock();
  return cell[0]!;
}
