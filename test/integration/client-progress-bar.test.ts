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

const ESC = String.fromCharCode(0x1b);
const MARKS = /^Dumping 33 out of 33 MB:(\.\.\d+%)+$/m;

/**
 * What a terminal with room for everything shows after `output`: a small
 * emulator of what cli-progress and our console write (characters, CR, LF,
 * erase to the end of the line, column 1, DEC save and restore cursor), so
 * that a line written over another shows up as it would on screen.
 */
function screen(output: string): string[] {
  const rows: string[] = [''];
  let row = 0;
  let column = 0;
  let saved: [number, number] = [0, 0];
  const put = (char: string) => {
    const line = rows[row]!.padEnd(column);
    rows[row] = line.slice(0, column) + char + line.slice(column + 1);
    column++;
  };
  for (let at = 0; at < output.length; at++) {
    const char = output[at]!;
    if (char === ESC) {
      const control = /^\[([0-9;?]*)([A-Za-z])|^([78])/.exec(output.slice(at + 1))!;
      at += control[0].length;
      if (control[3] === '7') saved = [row, column];
      else if (control[3] === '8') [row, column] = saved;
      else if (control[2] === 'K') rows[row] = rows[row]!.slice(0, column);
      else if (control[2] === 'G') column = Number(control[1] || 1) - 1;
      continue;
    }
    if (char === '\r') column = 0;
    else if (char === '\n') {
      row++;
      rows[row] ??= '';
    } else put(char);
  }
  return rows;
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
    const lines = screen(result.stdout);
    const bar = lines.findIndex((line) => line.startsWith('Dumping 33 out of 33 MB: ['));
    assert.ok(bar >= 0, result.stdout);
    assert.match(lines[bar]!, /^Dumping 33 out of 33 MB: \[=+\] 100% \| 33\.0 of 33\.0 MB \| \d+\.\d MB\/s \| 0s left \| resent 0$/);
    assert.equal(lines[bar + 1], 'netdump finished.', 'the console goes on right below the bar');
    assert.doesNotMatch(result.stdout, /\.\.\d+%/, 'no kernel marks');
    assert.ok(result.stdout.split('Dumping 33 out of 33 MB: [').length > 3, 'the line was drawn while the dump ran, not only at the end');
  });

  test('under loss: the ". " of each retransmit round above the bar, nothing written over, the bar last, then the console', async () => {
    const args = ['--inject', 'rx.loss=0.01,seed=4', '--polls', '20', '--synthetic', '33M', hosts.client.iface];
    const result = await runNetdump([...hostArgs(hosts), ...args], { terminal: true });
    assertStatus(result, 0);
    const lines = screen(result.stdout);
    const bar = lines.findIndex((line) => line.startsWith('Dumping 33 out of 33 MB: ['));
    const dots = lines.filter((line) => line === '. ').length;
    assert.ok(dots > 0, `retransmit rounds were printed above the bar:\n${lines.join('\n')}`);
    assert.deepEqual(lines.slice(bar - dots, bar), Array(dots).fill('. '), 'the dots, one a line, right above the bar');
    assert.match(lines[bar]!, /^Dumping 33 out of 33 MB: \[=+\] 100% \| 33\.0 of 33\.0 MB \| \d+\.\d MB\/s \| 0s left \| resent [1-9]\d*$/);
    // The KDH and FINISHED may retransmit too, after the bar: their dots go on the line below it, as on the kernel's console.
    const finished = lines.indexOf('netdump finished.');
    assert.ok(finished > bar && lines.slice(bar + 1, finished).every((line) => /^(\. )+$/.test(line)), lines.slice(bar).join('\n'));
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
