/**
 * The benchmarks' target lines: a ratio that misses its target never reads
 * as the target (4.996 against 5 is not "5.00x ... NOT met").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ratioText } from '../../scripts/bench/lib.js';

test('two decimals where they tell the ratio from its target', () => {
  assert.equal(ratioText(1.37, 1), '1.37');
  assert.equal(ratioText(0.994, 1), '0.99');
  assert.equal(ratioText(5, 5), '5.00');
});

test('as many more as it takes, where two would round onto the target', () => {
  assert.equal(ratioText(4.996, 5), '4.996');
  assert.equal(ratioText(5.004, 5), '5.004');
  assert.equal(ratioText(0.7999, 0.8), '0.7999');
  assert.equal(ratioText(1.0499, 1.05, 3), '1.0499');
});

test('past six decimals, the ratio as JavaScript writes it', () => {
  assert.equal(ratioText(4.9999999, 5), '4.9999999');
});
