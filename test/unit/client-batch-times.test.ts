/**
 * The data stage's batch times (`dataBatchMicros`): read off the clock the
 * dump is given, kept whether the dump takes the batches expected or more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BatchTimes } from '../../src/client/batch-times.js';

/** Times `durations` (µs) through BatchTimes expecting `expected` batches, on a clock that moves only as told. */
function timed(durations: number[], expected: number) {
  let now = 1000;
  const times = new BatchTimes(expected, () => now);
  for (const duration of durations) {
    times.start();
    now += duration;
    times.stop();
  }
  return times.summary();
}

test('mean, median, 99th percentile and maximum, in µs, from the given clock', () => {
  const durations = Array.from({ length: 100 }, (_, index) => index + 1);
  assert.deepEqual(timed(durations, 100), { mean: 50.5, p50: 50, p99: 99, max: 100 });
});

test('a dump that takes more batches than expected keeps them all', () => {
  const durations = Array.from({ length: 1000 }, (_, index) => (index === 999 ? 5000 : 10));
  assert.deepEqual(timed(durations, 3), { mean: 15, p50: 10, p99: 10, max: 5000 });
});

test('no batch: zeros; batches where none were expected: kept', () => {
  assert.deepEqual(timed([], 0), { mean: 0, p50: 0, p99: 0, max: 0 });
  assert.deepEqual(timed([5, 7], 0), { mean: 6, p50: 5, p99: 5, max: 7 });
});
