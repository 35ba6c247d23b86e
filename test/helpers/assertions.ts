/** Assertions shared by the tests. */
import assert from 'node:assert/strict';

import { NetdumpError } from '../../errors/index.js';

/** `fn` throws a NetdumpError with `code` whose message includes (or matches) `message`. */
export function assertNetdumpError(fn: () => unknown, code: string, message?: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof NetdumpError, `expected a NetdumpError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (typeof message === 'string') assert.ok(error.message.includes(message), error.message);
    if (message instanceof RegExp) assert.match(error.message, message);
    return true;
  });
}
