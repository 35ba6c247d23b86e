/**
 * npm run bench:client — a synthetic dump over veth to our server per
 * profile, against a C reference client running the kernel's wait loop over
 * a kernel UDP socket (send the batch; then drain acks, spin 500 µs, repeat),
 * against the same server, in rounds: each round runs the three clients back
 * to back (forward and backward in turn, the start moving on), so that the machine's slow spells, which
 * last tens of seconds here, fall on all of them alike. The target is our
 * time per batch within ±10 % of the reference's in the same round, taken
 * as the median over the rounds. The addon's raw-frame blast is printed for
 * scale.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import type { BatchTimeSummary } from '../../src/client/batch-times.js';
import type { DumpReport } from '../../src/client/netdump.js';
import { parseSize } from '../../src/cli/size.js';
import { createTestHostPair, type TestHosts } from '../lib/testhosts.js';
import {
  buildBenchProgram,
  CLIENT_CPU,
  formatTable,
  median,
  PROJECT_ROOT,
  removeDumps,
  roundOrder,
  SERVER_CPU,
  startServer,
  runBench,
  parseRounds,
  rawBlast,
  ratioText,
} from './lib.js';

const USAGE = `usage: npm run bench:client -- [--size SIZE] [--rounds N]
  --size SIZE   dump size per run (default 1G; K, M, G suffixes)
  --rounds N    rounds of the three clients (default 3)`;

interface Row {
  name: string;
  bytes: number;
  seconds: number;
  batches: number;
  polls: number;
  retransmittedPackets: number;
  /** Time per batch's distribution, microseconds. */
  batchMicros: BatchTimeSummary;
}

function ourClient(hosts: TestHosts, profile: string, size: number): Row {
  const cli = path.join(PROJECT_ROOT, 'dist/src/cli/netdump.js');
  const args = ['-c', CLIENT_CPU, process.execPath, cli, '--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip];
  args.push('--synthetic', String(size), '--profile', profile, '--json', hosts.client.iface);
  const output = execFileSync('taskset', args, { encoding: 'utf8' });
  const report = JSON.parse(output.trim().split('\n').pop()!) as DumpReport;
  // The dump data alone, as the reference measures it: FINISHED waits for the server's fsync.
  return {
    name: `our client, ${profile}`,
    bytes: report.bytes,
    seconds: report.dataSeconds,
    batches: report.dataBatches,
    polls: report.dataPolls,
    retransmittedPackets: report.retransmittedPackets,
    batchMicros: report.dataBatchMicros,
  };
}

function referenceClient(hosts: TestHosts, sender: string, size: number): Row {
  const output = hosts.run(hosts.client.ns, 'taskset', ['-c', CLIENT_CPU, sender, '-k', hosts.client.ip, hosts.server.ip, String(size)]);
  const result = JSON.parse(output) as Omit<Row, 'name' | 'retransmittedPackets'> & { retransmits: number };
  // result.batchMicros: the C client times each batch the same way, send to last ack.
  return { name: 'C reference: kernel wait loop over a UDP socket', ...result, retransmittedPackets: result.retransmits };
}

function parseOptions(): { size: number; rounds: number } {
  try {
    const { values } = parseArgs({
      options: { size: { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const rounds = parseRounds(values.rounds);
    return { size: parseSize(values.size ?? '1G'), rounds };
  } catch (error) {
    console.error(`bench:client: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const perBatch = (row: Row) => (row.seconds / row.batches) * 1000;

/** The run with the median time per batch (the lower middle of an even count): a real run, every column its own. */
function medianRun(runs: Row[]): Row {
  return [...runs].sort((a, b) => perBatch(a) - perBatch(b))[Math.floor((runs.length - 1) / 2)]!;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)} %`;
}

async function main(): Promise<void> {
  const { size, rounds } = parseOptions();
  const sender = buildBenchProgram('netdump-sender', ['scripts/bench/netdump-sender.c']);
  const blast = buildBenchProgram('blast', ['scripts/bench/blast.c', 'native/packet_socket.c']);
  // The client address lives in the client namespace's kernel too: the C reference needs it.
  const hosts = createTestHostPair({ clientAddressInKernel: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-bench-client-'));
  try {
    const server = await startServer(hosts, dir);
    const exited = once(server, 'exit');
    const clients = [
      () => referenceClient(hosts, sender, size),
      () => ourClient(hosts, 'freebsd13', size),
      () => ourClient(hosts, 'freebsd12', size),
    ];
    const runs: Row[][] = clients.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const client of roundOrder([...clients.keys()], round)) {
        runs[client]!.push(clients[client]!());
        removeDumps(dir);
      }
    }
    const blastRate = rawBlast(hosts, blast);
    server.kill('SIGTERM');
    await exited;
    const [references, ...ours] = runs as [Row[], ...Row[][]];
    /** Per round, how far a run's time per batch is from that round's reference. */
    const deviations = (mine: Row[]) => mine.map((row, round) => perBatch(row) / perBatch(references[round]!) - 1);
    console.log(
      `bench:client: ${(size / 2 ** 20).toFixed(0)} MiB dumps over veth to our server, MTU 1500, ${rounds} rounds; ` +
        `client on CPU ${CLIENT_CPU}, server on CPU ${SERVER_CPU}; each client's median run\n`,
    );
    console.log(
      formatTable(
        [
          'client',
          'MB/s',
          'batches/s',
          'ms per batch',
          'p50 / p99 / max µs',
          'polls per batch',
          'resent',
          'ms per batch by round',
          'vs reference by round',
        ],
        runs.map((mine, client) => {
          const row = medianRun(mine);
          return [
            row.name,
            (row.bytes / 1e6 / row.seconds).toFixed(1),
            Math.round(row.batches / row.seconds).toLocaleString('en-US'),
            perBatch(row).toFixed(3),
            `${row.batchMicros.p50.toFixed(0)} / ${row.batchMicros.p99.toFixed(0)} / ${row.batchMicros.max.toFixed(0)}`,
            (row.polls / row.batches).toFixed(2),
            String(row.retransmittedPackets),
            mine.map((run) => perBatch(run).toFixed(3)).join(' '),
            client === 0 ? '' : deviations(mine).map(percent).join(' '),
          ];
        }),
      ),
    );
    console.log(
      `\nfor scale: the addon's raw-frame blast (C sendmmsg, 1514-byte frames) reaches ${(blastRate / 1e6).toFixed(0)} MB/s on this link`,
    );
    for (const mine of ours) {
      // Issue 14's targets, each the median over the rounds of ours against the same round's reference.
      const meanRatio = median(mine.map((row, round) => row.batchMicros.mean / references[round]!.batchMicros.mean));
      const p99Ratio = median(mine.map((row, round) => row.batchMicros.p99 / references[round]!.batchMicros.p99));
      console.log(
        `target: ${mine[0]!.name}: mean time per batch within 1.05x the reference's: ${ratioText(meanRatio, 1.05, 3)}x ${meanRatio <= 1.05 ? 'met' : 'NOT met'}; ` +
          `p99 within 1.5x: ${ratioText(p99Ratio, 1.5)}x ${p99Ratio <= 1.5 ? 'met' : 'NOT met'}`,
      );
    }
  } finally {
    hosts.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench:client', main);
