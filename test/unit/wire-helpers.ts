/** Shared by the wire tests: hex literals and WireError assertions. Not a test file. */
import assert from 'node:assert/strict';
import { WireError, type WireErrorReason, type WireLayer } from '../../src/wire/index.js';

/** "02 00 0a" (spaces, newlines and "|" ignored) -> bytes. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/[\s|]/g, '');
  assert.equal(digits.length % 2, 0, 'hex literal has an odd number of digits');
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function assertBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(toHex(actual), toHex(expected));
}

/** Asserts that `fn` throws a WireError with `reason` (and `layer`, if given). */
export function assertWireError(fn: () => unknown, reason: WireErrorReason, layer?: WireLayer): WireError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof WireError, `expected a WireError(${reason}), got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.code, 'EBADMSG');
  if (layer !== undefined) assert.equal(caught.layer, layer, caught.message);
  return caught;
}
