import assert from 'node:assert/strict';
import { test } from 'node:test';

import { errorCodeOf, NetdumpError } from '../../errors/index.js';

test('errorCodeOf keeps an errno name it knows and maps any other to the fallback', () => {
  assert.equal(errorCodeOf('ENOSPC'), 'ENOSPC');
  assert.equal(errorCodeOf('EXDEV'), 'EXDEV');
  assert.equal(errorCodeOf('ESOMETHINGNEW'), 'EIO');
  assert.equal(errorCodeOf(undefined), 'EIO');
  assert.equal(errorCodeOf(5, 'EINVAL'), 'EINVAL');
  const error = new NetdumpError(errorCodeOf('ENOENT'), 'no such file', 2);
  assert.deepEqual([error.name, error.code, error.message, error.errno], ['NetdumpError', 'ENOENT', 'no such file', 2]);
});
