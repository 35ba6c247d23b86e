/**
 * netdump report from real traces: a clean freebsd13 dump, a freebsd12
 * dump under 2 % injected loss and a fast-profile dump (batches in flight
 * together), through our server. Debian's Chromium,
 * driven headless by playwright-core, opens the page from disk and finds
 * every chart drawn at its size with the marks the traces call for (a line
 * per trace, one dot per retransmit round), the summary's resent packets
 * equal to the trace's, and keeps a screenshot in test-artifacts/. Bad
 * input: the usage and exit 2, or one line and exit 1, and no page.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { chromium, type Browser } from 'playwright-core';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { assertStatus, hostArgs, makeTempDir, Netdumpd, removeDir, runNetdump } from '../helpers/netdump-cli.js';
import { requireTool } from '../helpers/tools.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

interface DrawnChart {
  width: number;
  height: number;
  /** Marks by Vega's class (mark-line, mark-rect, mark-symbol, mark-text): drawn elements with a size. */
  marks: Record<string, number>;
}

/** Lines of a trace whose event is `event`. */
function eventsIn(trace: string, event: string): number {
  return readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => line.includes(`"event":"${event}"`)).length;
}

describe('netdump report, opened in headless Chromium', () => {
  let hosts: TestHosts;
  let dir: string;
  let clean: string;
  let lossy: string;
  let fast: string;
  /** The client's own --json summary of each dump: what the report must agree with. */
  const reports: Array<{ retransmittedPackets: number; retransmitRounds: number }> = [];

  before(async () => {
    await requireTool('chromium', 'chromium');
    hosts = createTestHostPair();
    hosts.pinClientNeighbour(); // 12.x drops the server kernel's broadcast ARP for us (spec §3.5)
    dir = makeTempDir('netdump-report-');
    const server = await Netdumpd.start(hosts, dir);
    try {
      clean = path.join(dir, 'freebsd13.jsonl');
      lossy = path.join(dir, 'freebsd12-loss.jsonl');
      fast = path.join(dir, 'fast.jsonl');
      const runs: Array<[string, string[]]> = [
        [clean, ['--profile', 'freebsd13']],
        [lossy, ['--profile', 'freebsd12', '--inject', 'loss=0.02,seed=3', '--polls', '20']],
        // The fast profile's batches overlap: the report must read them beside the kernel's.
        [fast, ['--profile', 'fast']],
      ];
      for (const [trace, args] of runs) {
        const result = await runNetdump([
          ...hostArgs(hosts),
          ...args,
          '--json',
          '--trace',
          trace,
          '--synthetic',
          '12M',
          hosts.client.iface,
        ]);
        assertStatus(result, 0);
        reports.push(JSON.parse(result.stdout) as { retransmittedPackets: number; retransmitRounds: number });
      }
    } finally {
      await server.stop();
    }
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  test('every chart drawn with its marks; the summary agrees with the traces; a screenshot kept', async (t) => {
    const page = path.join(dir, 'report.html');
    const made = await runNetdump(['report', '-o', page, clean, lossy, fast]);
    assertStatus(made, 0);
    assert.equal(made.stdout, `${page}: 6 charts from 3 traces\n`);
    assert.ok(reports[1]!.retransmitRounds > 0, 'the lossy dump retransmitted');
    assert.equal(eventsIn(lossy, 'retransmit'), reports[1]!.retransmitRounds, 'a retransmit event per round');
    // The fast dump has no loss, but a server's stall past its timeout may still cost a round: count them all.
    const rounds = reports.reduce((sum, report) => sum + report.retransmitRounds, 0);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      const tab = await browser.newPage({ viewport: { width: 900, height: 900 } });
      await tab.goto(`file://${page}`);
      const charts = await tab.$$eval('figure[data-chart]', (figures) =>
        Object.fromEntries(
          figures.map((figure) => {
            const svg = figure.querySelector('svg')!;
            const box = svg.getBoundingClientRect();
            const marks: Record<string, number> = {};
            for (const group of Array.from(svg.querySelectorAll('g.role-mark'))) {
              const kind = Array.from(group.classList).find((name) => name.startsWith('mark-'))!;
              const drawn = Array.from(group.querySelectorAll('path, text')).filter((element) => {
                const size = element.getBoundingClientRect();
                return size.width > 0 || size.height > 0;
              });
              marks[kind] = (marks[kind] ?? 0) + drawn.length;
            }
            return [figure.getAttribute('data-chart')!, { width: box.width, height: box.height, marks }];
          }),
        ),
      );
      const drawn = charts as Record<string, DrawnChart>;
      assert.deepEqual(Object.keys(drawn), ['throughput', 'batch-time', 'batch-time-distribution', 'polls', 'ack-latency', 'retransmits']);
      for (const [id, chart] of Object.entries(drawn)) {
        assert.ok(chart.width >= 700 && chart.height >= 200, `${id} is drawn at ${chart.width}×${chart.height}`);
      }
      assert.equal(drawn.throughput!.marks['mark-line'], 3, 'a line per trace');
      assert.equal(drawn['batch-time']!.marks['mark-line'], 3, 'a median line per trace');
      assert.ok(drawn['batch-time']!.marks['mark-symbol']! > 10, 'the slowest batches as dots');
      assert.ok(drawn['batch-time-distribution']!.marks['mark-rect']! > 10, 'histogram bars');
      assert.ok(drawn.polls!.marks['mark-rect']! >= 3, 'a bar per trace at least');
      assert.ok(drawn['ack-latency']!.marks['mark-rect']! > 5, 'histogram bars');
      assert.equal(drawn.retransmits!.marks['mark-symbol'], rounds, 'one dot per retransmit round');

      const resent = await tab.$$eval('#summary tr', (rows) =>
        rows
          .filter((row) => row.querySelector('th')?.textContent === 'packets resent')
          .map((row) => Array.from(row.querySelectorAll('td'), (cell) => cell.textContent)),
      );
      assert.deepEqual(resent, [reports.map((report) => String(report.retransmittedPackets))]);
      const endings = await tab.$$eval('#summary tr', (rows) =>
        rows
          .filter((row) => row.querySelector('th')?.textContent === 'ends')
          .map((row) => Array.from(row.querySelectorAll('td'), (cell) => cell.textContent)),
      );
      assert.deepEqual(endings, [['every batch acked', 'every batch acked', 'every batch acked']]);
      const listed = Math.min(rounds, 200);
      assert.equal(await tab.locator('#retransmit-rounds tr').count(), listed + 1, 'a row per round under the header, at most 200');
      if (rounds > listed) assert.equal(await tab.getByText(`… and ${rounds - listed} more rounds (all are in the chart).`).count(), 1);

      mkdirSync(ARTIFACTS, { recursive: true });
      const screenshot = path.join(ARTIFACTS, 'report.png');
      await tab.screenshot({ path: screenshot, fullPage: true });
      t.diagnostic(`screenshot: ${screenshot}`);
    } finally {
      await browser?.close();
    }
  });

  test('bad input: no trace is exit 2 with the usage; a missing or foreign trace is exit 1; no page either way', async () => {
    const page = path.join(dir, 'bad.html');
    const none = await runNetdump(['report', '-o', page]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^netdump report: give one or more traces of netdump --trace\n/);
    const missing = await runNetdump(['report', '-o', page, path.join(dir, 'missing.jsonl')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^netdump report: cannot read the trace \S+missing\.jsonl: ENOENT[^\n]*\n$/);
    const foreign = await runNetdump(['report', '-o', page, path.join(dir, 'info.198.18.0.1.0')]);
    assert.equal(foreign.status, 1);
    assert.match(foreign.stderr, /^netdump report: \S+info\.198\.18\.0\.1\.0:1: not a JSON line of a netdump trace\n$/);
    assert.equal(existsSync(page), false);
  });
});
