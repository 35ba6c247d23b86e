/**
 * npm start (dist/scripts/start.js): the whole path on embedded defaults,
 * verified by the script itself, keeping the client's capture and trace
 * where the user asked, relative to the directory npm was started in; and
 * bad options end with the usage and exit 2, leaving no test host behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { staleTestHosts } from '../../scripts/lib/testhosts.js';
import { makeTempDir, removeDir } from '../helpers/netdump-cli.js';
import { readPcap } from '../helpers/pcap.js';

const START = fileURLToPath(new URL('../../scripts/start.js', import.meta.url));

function start(args: string[], userDirectory: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [START, ...args], {
    encoding: 'utf8',
    env: { ...process.env, INIT_CWD: userDirectory },
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm start', () => {
  let dir: string;

  before(() => {
    dir = makeTempDir('netdump-start-test-');
  });

  after(() => {
    removeDir(dir);
  });

  test('a verified 9 MiB dump; the capture and the trace are kept where asked', () => {
    const hostsBefore = staleTestHosts().length;
    const result = start(['--size', '9M', '--pcap', 'dump.pcap', '--trace', 'dump.jsonl'], dir);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /^verified: \S+vmcore\.198\.18\.0\.1\.0 is the 9M synthetic minidump byte for byte, and its info file is complete\.$/m,
    );
    assert.ok(result.stdout.includes(`kept: the client's capture in ${path.join(dir, 'dump.pcap')}\n`), result.stdout);
    assert.ok(result.stdout.includes(`kept: the client's trace in ${path.join(dir, 'dump.jsonl')}\n`), result.stdout);
    // 9 MiB in 1448-byte packets is 6518 VMCORE messages; each is acked, and there are ARP, HERALD, KDH and FINISHED.
    assert.ok(readPcap(path.join(dir, 'dump.pcap')).records.length > 2 * 6518);
    const events = readFileSync(path.join(dir, 'dump.jsonl'), 'utf8').trim().split('\n');
    assert.ok(events.length > 2 * 6518, `${events.length} trace lines`);
    assert.ok(events.every((line) => typeof (JSON.parse(line) as { event?: unknown }).event === 'string'));
    assert.equal(staleTestHosts().length, hostsBefore, 'npm start removed its test hosts');
  });

  test('a bad option: the usage and exit 2, before any test host is made', () => {
    const hostsBefore = staleTestHosts().length;
    const result = start(['--size', '9Q'], dir);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^npm start: --size: .*\nusage: npm start -- \[--size SIZE\]/);
    const unknown = start(['--sise', '9M'], dir);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^npm start: Unknown option '--sise'/);
    assert.equal(staleTestHosts().length, hostsBefore, 'no test host left behind');
  });
});
