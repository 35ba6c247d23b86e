/**
 * Opening a new dump's files when something throws half-way: the client's
 * directory, and whichever files were already open, are closed before the
 * error reaches the server, so that no descriptor outlives the herald.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { openFilesForHerald } from '../../src/server/client-files.js';
import { DumpDirectory } from '../../src/server/dumpdir.js';
import type { Logger } from '../../src/server/log.js';

const openDescriptors = () => readdirSync('/proc/self/fd').length;

/** A logger that throws, as a failing log write would, on the `nth` line that contains `text`. */
function loggerThrowingAt(text: string, nth = 1): Logger {
  let seen = 0;
  const write = (line: string) => {
    if (line.includes(text) && ++seen === nth) throw new Error(`log write failed at: ${line.trim()}`);
  };
  return { info: write, warn: write, error: write };
}

describe("server: opening a dump's files fails half-way", () => {
  let work: string;
  let dumpDir: DumpDirectory;

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'netdumpd-client-files-'));
    mkdirSync(path.join(work, 'sub'));
    dumpDir = new DumpDirectory(work);
  });

  after(() => {
    dumpDir?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Opens files for a herald naming `sub` with this logger; asserts that it throws and leaves no descriptor open. */
  function assertNothingLeftOpen(host: string, log: Logger, thrown: RegExp): void {
    const before = openDescriptors();
    assert.throws(() => openFilesForHerald(dumpDir, Buffer.from('sub'), '.', { hostname: host, ip: host }, log), thrown);
    assert.equal(openDescriptors(), before, 'descriptors left open');
  }

  test('a throw while the bounds file is read: the client directory is closed', () => {
    assertNothingLeftOpen('198.18.0.60', loggerThrowingAt('Empty bounds file'), /Empty bounds file/);
  });

  test('a throw after the info and core files are open: both and the directory are closed', () => {
    // A directory under the bounds file's name cannot be read, nor rewritten once the files are open.
    mkdirSync(path.join(work, 'sub', 'bounds.198.18.0.61'));
    assertNothingLeftOpen('198.18.0.61', loggerThrowingAt('openat(bounds.198.18.0.61)', 2), /openat\(bounds/);
    assert.ok(readdirSync(path.join(work, 'sub')).includes('vmcore.198.18.0.61.0'), 'the throw came after the core file was opened');
  });
});
