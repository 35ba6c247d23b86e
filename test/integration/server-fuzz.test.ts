/**
 * 20,000 mutated datagrams (test/helpers/fuzz-sender.ts) from eight other
 * addresses of the client host, to the herald port and to their own
 * sessions' ports, while a legitimate client dumps: the dump lands byte for
 * byte, the server's memory stays bounded, nothing is written outside the
 * dump directory, and the server serves on.
 *
 * FUZZ_COUNT=150000 sends more: the server's peak RSS measured here was
 * 73 MB after 20,000 datagrams, 97 MB after 60,000 and after 150,000.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import type { FuzzSummary } from '../helpers/fuzz-sender.js';
import { addClientAddress, assertSameBytes, buildKdh, expectedKdhInfo } from '../helpers/netdump-test-client.js';
import type { NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

const FUZZ_SENDER = fileURLToPath(new URL('../helpers/fuzz-sender.js', import.meta.url));
const DATAGRAMS = Number(process.env.FUZZ_COUNT ?? 20_000);
const FUZZ_IPS = Array.from({ length: 8 }, (_, i) => `198.18.0.${50 + i}`);
/** The server's resident set may grow by at most this much under the flood. */
const RSS_GROWTH_LIMIT_KB = 40 * 1024;

/** VmRSS or VmHWM of a process, in KiB. */
function memoryKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  assert.ok(match, `no ${field} for process ${pid}`);
  return Number(match[1]);
}

describe('netdumpd: fuzzed by eight hostile clients during a dump', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;
  let dumpDir: string;
  let outside: string;

  before(async () => {
    fixture = new ServerFixture('netdumpd-fuzz-');
    ({ dumpDir } = fixture);
    outside = path.join(fixture.work, 'outside');
    mkdirSync(outside);
    mkdirSync(path.join(dumpDir, 'sub'));
    symlinkSync(outside, path.join(dumpDir, 'escape'));
    for (const ip of FUZZ_IPS) addClientAddress(fixture.hosts, ip);
    server = await fixture.startServer(['-d', dumpDir, '-P', fixture.pidFile]);
  });

  after(() => fixture?.tearDown());

  async function fuzz(seed: number): Promise<FuzzSummary> {
    const config = { serverIp: fixture.hosts.server.ip, ips: FUZZ_IPS, count: DATAGRAMS, seed };
    const child = fixture.hosts.spawn(fixture.hosts.client.ns, process.execPath, [FUZZ_SENDER, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const lines = createInterface({ input: child.stdout! });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      let summary: FuzzSummary | undefined;
      lines.on('line', (line) => {
        summary = JSON.parse(line) as FuzzSummary;
      });
      assert.equal(await exited, 0, 'the fuzz sender exits cleanly');
      assert.ok(summary, 'the fuzz sender prints its summary');
      return summary;
    } finally {
      child.kill('SIGKILL');
    }
  }

  test('a dump during 20,000 mutated datagrams lands byte for byte; memory stays bounded', async (t) => {
    const rssBefore = memoryKb(server.pid, 'VmRSS');
    const ip = fixture.hosts.client.ip;
    const client = await fixture.clientAt(ip);
    const vmcore = randomBytes(4 * 1024 * 1024);
    const kdh = buildKdh({ dumpLength: vmcore.length });
    const [summary] = await Promise.all([fuzz(11), client.dump(vmcore, kdh)]);

    assert.equal(summary.sent, DATAGRAMS);
    assert.ok(summary.toSession > DATAGRAMS / 4, `the fuzzers reached their sessions: ${JSON.stringify(summary)}`);
    assertSameBytes(readFileSync(path.join(dumpDir, `vmcore.${ip}.0`)), vmcore, 'the legitimate vmcore');
    assert.equal(
      readFileSync(path.join(dumpDir, `info.${ip}.0`), 'latin1'),
      `Dump from ${ip} [${ip}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`,
    );

    const rssAfter = memoryKb(server.pid, 'VmRSS');
    const peak = memoryKb(server.pid, 'VmHWM');
    t.diagnostic(
      `${server.countLines('New dump')} sessions, ${server.countLines('(KDH from')} KDHs, ` +
        `${server.countLines('past what a file can hold')} dump lengths past 2^53, ${server.lines.length} log lines`,
    );
    t.diagnostic(`fuzz: ${JSON.stringify(summary)}; server RSS ${rssBefore} kB before, peak ${peak} kB, ${rssAfter} kB after`);
    assert.ok(peak - rssBefore < RSS_GROWTH_LIMIT_KB, `RSS ${rssBefore} kB before, peak ${peak} kB, ${rssAfter} kB after`);

    assert.deepEqual(readdirSync(outside), [], 'nothing is written outside the dump directory');
    assert.deepEqual(readdirSync(fixture.work).sort(), ['dump', 'handler.sh', 'netdumpd.pid', 'outside', 'records']);
    assert.equal(server.child.exitCode, null, 'the server is still running');
    assert.equal(server.stderr, 'netdumpd: default: listening on all interfaces\n', 'nothing else on stderr (no exception)');

    // And it serves the next dump.
    const second = randomBytes(256 * 1024);
    await client.dump(second, buildKdh({ dumpLength: second.length }));
    assertSameBytes(readFileSync(path.join(dumpDir, `vmcore.${ip}.1`)), second, 'the dump after the flood');
  });
});
