/**
 * npm run bench:fast — issue 16's benchmark, every figure from the same
 * run: our client's fast profile against freebsd13 (the kernel's loop),
 * against the best fixed-window C client (window-sender.c, the window swept,
 * its UDP checksum computed in software as ours is, and offloaded)
 * and against the raw-frame blast, into our server and into the minimal C
 * server (netdumpd's per-packet work); the fast profile under 1 % and 5 %
 * injected loss against its own lossless figure with the injector in place;
 * and the fast profile's peak memory over a 4 GiB dump. Every dump is
 * verified byte for byte. Each round runs our client and the C sender in
 * turn, in an order that changes per round; medians over the rounds; a
 * ratio is taken within each round, then their median, so that the
 * machine's slow spells (tens of seconds here) fall on both alike.
 */
import { parseArgs } from 'node:util';

import { parseSize } from '../../src/cli/size.js';
import { createTestHostPair, type TestHosts } from '../lib/testhosts.js';
import {
  buildBenchProgram,
  CLIENT_CPU,
  formatTable,
  median,
  parseRounds,
  parseWindows,
  rawBlast,
  roundOrder,
  runBench,
  SERVER_CPU,
} from './lib.js';
import { dumpInto, minimalServer, ourClientInto, ourServer, type OurClientReport, type ServerUnderTest } from './servers.js';

const USAGE = `usage: npm run bench:fast -- [--size SIZE] [--windows W,W,...] [--rounds N] [--rss-size SIZE]
  --size SIZE       dump size per run (default 256M; K, M, G suffixes)
  --windows LIST    the fixed windows to sweep, in packets (default 16,32,48,64,80)
  --rounds N        rounds of every run; medians are reported (default 3)
  --rss-size SIZE   the dump whose peak memory is measured (default 4G; 0 skips it)`;

interface Options {
  size: number;
  windows: number[];
  rounds: number;
  rssSize: number;
}

/**
 * The herald, KDH and FINISHED go through the kernel's loop: 20 ms rounds under loss, and enough of
 * them (8 s) for FINISHED, which our server acks after its fsync of the whole dump.
 */
const KERNEL_LOOP_UNDER_LOSS = ['--polls', '40', '--retries', '400'];

/** Our client's runs, by name: CLI options, and whether the rate counts as lossless fast. */
const OUR_RUNS: Array<[string, string[]]> = [
  ['freebsd13', ['--profile', 'freebsd13']],
  ['fast', ['--profile', 'fast']],
  // The injector costs CPU per frame: the loss runs are compared with this, the same path at 0 %.
  ['fast, injector at 0 %', ['--profile', 'fast', '--inject', 'loss=0,seed=1']],
  ['fast, 1 % loss each way', ['--profile', 'fast', '--inject', 'loss=0.01,seed=1', ...KERNEL_LOOP_UNDER_LOSS]],
  ['fast, 5 % loss each way', ['--profile', 'fast', '--inject', 'loss=0.05,seed=1', ...KERNEL_LOOP_UNDER_LOSS]],
];

function parseOptions(): Options {
  try {
    const { values } = parseArgs({
      options: {
        size: { type: 'string' },
        windows: { type: 'string' },
        rounds: { type: 'string' },
        'rss-size': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const windows = parseWindows(values.windows, '16,32,48,64,80');
    const size = parseSize(values.size ?? '256M');
    const rssSize = values['rss-size'] === '0' ? 0 : parseSize(values['rss-size'] ?? '4G');
    for (const [name, value] of [
      ['--size', size],
      ['--rss-size', rssSize],
    ] as const) {
      if (value % 4096 !== 0) throw new Error(`${name} must be a multiple of 4096 bytes (a minidump's page)`);
    }
    return { size, windows, rounds: parseRounds(values.rounds), rssSize };
  } catch (error) {
    console.error(`bench:fast: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

/** Megabytes per second, per round, by run name. */
type Rates = Map<string, number[]>;

function record(rates: Rates, name: string, rate: number): void {
  rates.set(name, [...(rates.get(name) ?? []), rate]);
}

const rateOf = (report: OurClientReport) => report.bytes / report.dataSeconds / 1e6;

/**
 * A run of one round: our client with CLI options, or the C window sender
 * with a window and its UDP checksum offloaded to the veth or computed in
 * software. Offloaded, the checksum is never computed at all: the server's
 * kernel trusts the veth. Our frames carry the kernel's software checksum,
 * which the server's recv() then verifies (skb_copy_and_csum_datagram, 4 %
 * of its CPU in a perf profile), so the software-checksum C client is the
 * like-for-like baseline.
 */
type Run = { name: string; args: string[] } | { name: string; window: number; checksum: Checksum };
type Checksum = 'software' | 'offloaded';

const cWindowName = (window: number, checksum: Checksum) => `C window W=${window}, checksum ${checksum}`;

/** The client veth's TX checksum offload, which only the C sender's kernel UDP socket uses. */
function setChecksumOffload(hosts: TestHosts, checksum: Checksum): void {
  try {
    hosts.run(hosts.client.ns, 'ethtool', ['-K', hosts.client.iface, 'tx', checksum === 'offloaded' ? 'on' : 'off']);
  } catch (error) {
    throw new Error(`cannot set the veth's checksum offload (is ethtool installed? apt-get install ethtool): ${(error as Error).message}`);
  }
}

/** One round into one server: our runs and the fixed-window sweep, interleaved, in an order that changes per round. */
async function round(
  hosts: TestHosts,
  server: ServerUnderTest,
  options: Options,
  programs: Programs,
  index: number,
  rates: Rates,
): Promise<void> {
  const runs: Run[] = OUR_RUNS.map(([name, args]) => ({ name, args }));
  options.windows.forEach((window, at) => {
    const both = (['software', 'offloaded'] as const).map((checksum) => ({ name: cWindowName(window, checksum), window, checksum }));
    runs.splice(3 * at + 1, 0, ...both);
  });
  for (const run of roundOrder(runs, index)) {
    if ('args' in run) {
      const report = await ourClientInto(hosts, server, run.args, options.size);
      record(rates, run.name, rateOf(report));
      record(rates, `${run.name}: resent`, report.retransmittedPackets);
    } else {
      setChecksumOffload(hosts, run.checksum);
      const command = (clientIp: string, serverIp: string, size: number) => [
        programs.window,
        clientIp,
        serverIp,
        String(size),
        String(run.window),
      ];
      const result = await dumpInto(hosts, server, command, options.size, true);
      record(rates, run.name, result.bytes / result.seconds / 1e6);
      record(rates, `${run.name}: resent`, result.retransmits);
    }
  }
}

interface Programs {
  window: string;
  minimal: string;
  blast: string;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const programs: Programs = {
    window: buildBenchProgram('window-sender', ['scripts/bench/window-sender.c']),
    minimal: buildBenchProgram('minimal-server', ['scripts/bench/minimal-server.c']),
    blast: buildBenchProgram('blast', ['scripts/bench/blast.c', 'native/packet_socket.c']),
  };
  const servers = [ourServer, minimalServer(programs.minimal)];
  const rates = new Map<ServerUnderTest, Rates>(servers.map((server) => [server, new Map()]));
  const blast: number[] = [];
  // The C senders send through the client namespace's kernel: it needs the address too.
  const hosts = createTestHostPair({ clientAddressInKernel: true });
  let rss: OurClientReport | undefined;
  try {
    for (let index = 0; index < options.rounds; index++) {
      blast.push(rawBlast(hosts, programs.blast) / 1e6);
      for (const server of servers) await round(hosts, server, options, programs, index, rates.get(server)!);
    }
    if (options.rssSize > 0) rss = await ourClientInto(hosts, servers[1]!, ['--profile', 'fast'], options.rssSize);
  } finally {
    hosts.destroy();
  }
  report(options, servers, rates, blast, rss);
}

function report(
  options: Options,
  servers: ServerUnderTest[],
  rates: Map<ServerUnderTest, Rates>,
  blast: number[],
  rss?: OurClientReport,
): void {
  console.log(
    `bench:fast: ${(options.size / 2 ** 20).toFixed(0)} MiB synthetic minidumps (C senders: the same size of pattern), ` +
      `client on CPU ${CLIENT_CPU}, server on CPU ${SERVER_CPU}, median of ${options.rounds} rounds; every dump verified\n`,
  );
  console.log(`raw-frame blast (C sendmmsg, 1514-byte frames, no server): ${median(blast).toFixed(0)} MB/s\n`);
  const names = [
    ...OUR_RUNS.map(([name]) => name),
    ...(['software', 'offloaded'] as const).flatMap((checksum) => options.windows.map((window) => cWindowName(window, checksum))),
  ];
  for (const server of servers) {
    const byName = rates.get(server)!;
    console.log(server.name);
    console.log(
      formatTable(
        ['sender', 'MB/s', 'resent'],
        names.map((name) => [name, median(byName.get(name)!).toFixed(1), String(median(byName.get(`${name}: resent`)!))]),
      ),
    );
    targets(byName, options).forEach((line) => console.log(line));
    console.log('');
  }
  if (rss !== undefined) {
    const megabytes = rss.peakRssBytes / 2 ** 20;
    console.log(
      `peak memory of a ${(options.rssSize / 2 ** 30).toFixed(1)} GiB fast dump: ${megabytes.toFixed(0)} MiB ` +
        `(target < 150 MB: ${rss.peakRssBytes < 150e6 ? 'met' : 'NOT met'}), ${rateOf(rss).toFixed(0)} MB/s`,
    );
  }
}

/** The targets on one server: ratios per round, then their median. */
function targets(byName: Rates, options: Options): string[] {
  const perRound = (numerator: (round: number) => number, denominator: (round: number) => number) =>
    median(Array.from({ length: options.rounds }, (_, round) => numerator(round) / denominator(round)));
  const at = (name: string) => (round: number) => byName.get(name)![round]!;
  // The best window by its median over the rounds; the ratio is then taken within each round (a best-of-five per round would favour C).
  const best = (checksum: Checksum) =>
    cWindowName(
      options.windows.reduce((a, b) =>
        median(byName.get(cWindowName(b, checksum))!) > median(byName.get(cWindowName(a, checksum))!) ? b : a,
      ),
      checksum,
    );
  const line = (what: string, ratio: number, target: number) =>
    `  ${what}: ${ratio.toFixed(2)}x (target >= ${target}: ${ratio >= target ? 'met' : 'NOT met'})`;
  return [
    line(`fast / best fixed-window C (${best('software')})`, perRound(at('fast'), at(best('software'))), 1.0),
    `  (fast / ${best('offloaded')}, whose checksums the server never verifies: ${perRound(at('fast'), at(best('offloaded'))).toFixed(2)}x)`,
    line('fast / freebsd13', perRound(at('fast'), at('freebsd13')), 5),
    line('fast at 1 % loss / fast at 0 % (injector in place)', perRound(at('fast, 1 % loss each way'), at('fast, injector at 0 %')), 0.5),
    line('fast at 5 % loss / fast at 0 % (injector in place)', perRound(at('fast, 5 % loss each way'), at('fast, injector at 0 %')), 0.25),
    `  (against fast without the injector: 1 % ${perRound(at('fast, 1 % loss each way'), at('fast')).toFixed(2)}x, ` +
      `5 % ${perRound(at('fast, 5 % loss each way'), at('fast')).toFixed(2)}x)`,
  ];
}

runBench('bench:fast', main);
