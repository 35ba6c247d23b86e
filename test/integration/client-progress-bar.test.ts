/**
 * The data stage's progress on a terminal (script(1)'s pseudo-terminal):
 * one live line with the bar, MB done, MB/s, time left and packets resent,
 * in place of the kernel's "..N%" marks, ended once so the console goes on
 * below it; --no-bar, or output that is not a terminal, keeps the kernel's
 * marks and draws no bar.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { assertStatus, hostArgs, makeTempDir, Netdumpd, removeDir, runNetdump } from '../helpers/netdump-cli.js';
import { requireTool } from '../helpers/tools.js';

/** The terminal escapes cli-progress writes: CSI sequences, and cursor save and restore. */
const ESC = String.fromCharCode(0x1b);
const ESCAPE = new RegExp(`${ESC}(\\[[0-9;?]*[A-Za-z]|[78])`, 'g');
const START_OF_LINE = new RegExp(`\r|${ESC}\\[1G`);
const MARKS = /^Dumping 33 out of 33 MB:(\.\.\d+%)+$/m;

/** What a terminal shows, line by line: each \r-rewritten line's last drawing, escapes removed. */
function screenLines(output: string): string[] {
  return output
    .replaceAll('\r\n', '\n')
    .split('\n')
    .map((line) => line.split(START_OF_LINE).pop()!.replace(ESCAPE, ''));
}

describe('the live progress line on a terminal', () => {
  let hosts: TestHosts;
  let dir: string;
  let server: Netdumpd;

  before(async () => {
    await requireTool('script', 'bsdutils');
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-progress-bar-');
    server = await Netdumpd.start(hosts, dir);
  });

  after(async () => {
    await server?.stop();
    hosts?.destroy();
    removeDir(dir);
  });

  test('on a terminal: the bar in place of the marks, ended once, the console below it', async () => {
    const result = await runNetdump([...hostArgs(hosts), '--synthetic', '33M', hosts.client.iface], { terminal: true });
    assertStatus(result, 0);
    const lines = screenLines(result.stdout);
    const bar = lines.findIndex((line) => line.startsWith('Dumping 33 out of 33 MB: ['));
    assert.ok(bar >= 0, result.stdout);
    assert.match(lines[bar]!, /^Dumping 33 out of 33 MB: \[=+\] 100% \| 33\.0 of 33\.0 MB \| \d+\.\d MB\/s \| 0s left \| resent 0$/);
    assert.equal(lines[bar + 1], 'netdump finished.', 'the console goes on right below the bar');
    assert.doesNotMatch(result.stdout, /\.\.\d+%/, 'no kernel marks');
    assert.ok(result.stdout.split('Dumping 33 out of 33 MB: [').length > 3, 'the line was drawn while the dump ran, not only at the end');
  });

  test('--no-bar on a terminal, and output that is not a terminal: the kernel marks, no bar', async () => {
    const plainTerminal = await runNetdump([...hostArgs(hosts), '--no-bar', '--synthetic', '33M', hosts.client.iface], { terminal: true });
    assertStatus(plainTerminal, 0);
    const notTerminal = await runNetdump([...hostArgs(hosts), '--synthetic', '33M', hosts.client.iface]);
    assertStatus(notTerminal, 0);
    const marksOf = (output: string) => MARKS.exec(output.replaceAll('\r', ''))?.[0];
    assert.equal(marksOf(notTerminal.stdout), 'Dumping 33 out of 33 MB:..49%..97%');
    assert.equal(marksOf(plainTerminal.stdout), marksOf(notTerminal.stdout));
    for (const output of [plainTerminal.stdout, notTerminal.stdout]) assert.doesNotMatch(output, /MB: \[/);
  });
});
