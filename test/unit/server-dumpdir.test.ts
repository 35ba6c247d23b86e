/**
 * The dump directory's start-up probe of openat2(2): it passes on this
 * kernel, and a failure says in one line what the server needs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { NetdumpError } from '../../errors/index.js';
import { DumpDirectory, openat2ProbeFailure } from '../../src/server/dumpdir.js';

const failure = (code: 'ENOSYS' | 'EPERM' | 'EACCES', errno: number) => new NetdumpError(code, `openat2: ${code}`, errno);

test('the openat2 probe passes where openat2 works (Linux 5.6 or later)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'netdumpd-dumpdir-'));
  const dumpDir = new DumpDirectory(work);
  try {
    assert.doesNotThrow(() => dumpDir.checkOpenat2());
  } finally {
    dumpDir.close();
    rmSync(work, { recursive: true, force: true });
  }
});

test('openat2 missing (ENOSYS) or denied (EPERM): one line that says what is needed', () => {
  const needs =
    "netdumpd needs Linux 5.6 or later, with openat2 allowed by any seccomp filter (a container runtime's, systemd's SystemCallFilter=)";
  assert.equal(openat2ProbeFailure('/var/crash', failure('ENOSYS', 38)), `openat2(2) is unavailable (Function not implemented): ${needs}`);
  assert.equal(openat2ProbeFailure('/var/crash', failure('EPERM', 1)), `openat2(2) is unavailable (Operation not permitted): ${needs}`);
});

test('any other failure of the probe names the dump directory and the reason', () => {
  assert.equal(
    openat2ProbeFailure('/var/crash', failure('EACCES', 13)),
    'cannot open the dump directory /var/crash beneath itself with openat2(2): Permission denied',
  );
});
