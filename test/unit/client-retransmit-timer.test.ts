/**
 * The fast profile's retransmit timeout (RFC 6298 from measured round
 * trips): exact values, and fields whose types stay what they were at the
 * dump's start, so that a late round trip past the floor does not make V8
 * throw away the send loop's optimized code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { MAX_RTO_US, MIN_RTO_US, RetransmitTimer } from '../../src/client/retransmit-timer.js';

test('round trips under the floor give the floor; the first sample sets the smoothed RTT', () => {
  const timer = new RetransmitTimer();
  assert.equal(timer.timeout, MIN_RTO_US);
  timer.sample(150.25);
  assert.equal(timer.smoothedRtt, 150.25);
  assert.equal(timer.timeout, MIN_RTO_US);
});

test('past the floor the timeout is the estimate rounded up to a whole µs; a timeout doubles it once until it runs out', () => {
  const timer = new RetransmitTimer();
  timer.sample(150.25);
  // variance 0.75 × 75.125 + 0.25 × 39850.25 = 10018.90625; smoothed 0.875 × 150.25 + 0.125 × 40000.5 = 5131.53125
  timer.sample(40000.5);
  assert.equal(timer.timeout, 45208); // ⌈5131.53125 + 4 × 10018.90625⌉
  assert.equal(timer.backOff(1000.5), true);
  assert.equal(timer.timeout, 90416);
  assert.equal(timer.backOff(1000.5 + 90415), false, 'the same timeout');
  assert.equal(timer.backOff(1000.5 + 90416), true);
  assert.equal(timer.timeout, 180832);
  for (let i = 0; i < 5; i++) timer.backOff(1e12 * (i + 1));
  assert.equal(timer.timeout, MAX_RTO_US);
});

test("a late spike and the first back-off leave the timer's shape (V8 map) as it was", () => {
  const module = fileURLToPath(new URL('../../src/client/retransmit-timer.js', import.meta.url));
  const script = `
    const { RetransmitTimer } = await import(${JSON.stringify(module)});
    const settled = new RetransmitTimer(), spiked = new RetransmitTimer();
    for (const timer of [settled, spiked]) for (let i = 0; i < 100; i++) timer.sample(150.25 + i);
    spiked.sample(40000.5);
    spiked.backOff(123456.789);
    console.log(%HaveSameMap(settled, spiked));`;
  const output = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(output.trim(), 'true');
});
