/**
 * npm test on a machine that lacks a tool: the system check names what to
 * install in one line and exits non-zero; a test file that needs tcpdump
 * fails at once, saying so, and neither hangs nor leaves a test host behind.
 * A tool is taken away by running with a PATH of links to everything else.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { staleTestHosts } from '../../scripts/lib/testhosts.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHECK_SYSTEM = path.join(ROOT, 'scripts', 'check-system.mjs');
const CLIENT_CAPTURE_TEST = fileURLToPath(new URL('./client-capture.test.js', import.meta.url));
/** The capture test needs about 10 s with tcpdump; without it, it must end in far less than this. */
const HANG_LIMIT_MS = 90_000;

/** A directory of links to every command on PATH but `missing`: a PATH for a machine without them. */
function pathWithout(missing: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-path-'));
  const linked = new Set(missing);
  for (const from of (process.env.PATH ?? '').split(':')) {
    let names: string[];
    try {
      names = readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      if (linked.has(name)) continue;
      linked.add(name);
      symlinkSync(path.join(from, name), path.join(dir, name));
    }
  }
  return dir;
}

function checkSystem(missing: string[], env: NodeJS.ProcessEnv = {}) {
  const bin = pathWithout(missing);
  try {
    return spawnSync(process.execPath, [CHECK_SYSTEM], { env: { ...process.env, ...env, PATH: bin }, encoding: 'utf8', timeout: 30_000 });
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

describe('npm test on a machine that lacks a tool', () => {
  test('the system check names the package and the exact command in one line, and exits 1', () => {
    const result = checkSystem(['tcpdump'], { NETDUMP_NO_INSTALL: '1' });
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'npm test needs tcpdump: install with: apt-get install -y tcpdump\n');
    assert.equal(result.status, 1);
  });

  test('each package is named once, however many of its commands are missing', () => {
    const result = checkSystem(['tcpdump', 'setpriv', 'nsenter', 'ethtool'], { NETDUMP_NO_INSTALL: '1' });
    assert.equal(
      result.stderr,
      'npm test needs ethtool, tcpdump, util-linux: install with: apt-get install -y ethtool tcpdump util-linux\n',
    );
    assert.equal(result.status, 1);
  });

  test('with everything there it says nothing and exits 0', () => {
    const result = checkSystem([], { NETDUMP_NO_INSTALL: '1' });
    assert.deepEqual([result.stdout, result.stderr, result.status], ['', '', 0]);
  });

  test('a test file that needs tcpdump fails at once, says what to install, and leaves no test host', async () => {
    const bin = pathWithout(['tcpdump']);
    const staleBefore = new Set(staleTestHosts());
    // Its own process group, so that a hang is ended whole, whatever it started.
    // Run as a plain script (a test file runs its own tests), not as a child of this file's runner.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, [CLIENT_CAPTURE_TEST], {
      env: { ...env, PATH: bin },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), HANG_LIMIT_MS);
    try {
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
      );
      assert.equal(signal, null, `the capture test hung and was killed after ${HANG_LIMIT_MS} ms:\n${output}`);
      assert.equal(code, 1, output);
      assert.match(output, /tcpdump is not installed: apt-get install -y tcpdump/);
      assert.ok(Date.now() - started < HANG_LIMIT_MS);
      assert.deepEqual(
        staleTestHosts().filter((name) => !staleBefore.has(name)),
        [],
        'every test host was removed',
      );
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
