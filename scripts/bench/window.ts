/**
 * npm run bench:window — the best a fixed window can do (issue 16's
 * baseline for a fast profile): a C sender keeping W packets unacked across
 * the kernel's batch boundaries (window-sender.c) dumps into our server and
 * into the minimal C server, for each W of the sweep, in rounds with the
 * kernel's own loop (netdump-sender -k) for scale. Every dump is verified;
 * packets resent (a window past the server's receive buffer loses some)
 * are counted, not refused. Prints MB/s per W and server, the best W, and
 * its ratio to the kernel loop measured in the same rounds.
 */
import { parseArgs } from 'node:util';

import { parseSize } from '../../src/cli/size.js';
import { createTestHostPair } from '../lib/testhosts.js';
import { buildBenchProgram, CLIENT_CPU, formatTable, median, parseRounds, parseWindows, runBench, SERVER_CPU } from './lib.js';
import {
  dumpInto,
  kernelSender,
  minimalServer,
  ourServer,
  type SenderCommand,
  type SenderResult,
  type ServerUnderTest,
} from './servers.js';

const USAGE = `usage: npm run bench:window -- [--size SIZE] [--windows W,W,...] [--rounds N]
  --size SIZE       dump size per run (default 256M; K, M, G suffixes)
  --windows LIST    windows to sweep, in packets (default 16,32,48,64,80,96,128)
  --rounds N        rounds of the whole sweep; medians are reported (default 3)`;

const KERNEL_LOOP = 'kernel loop';

interface Options {
  size: number;
  windows: number[];
  rounds: number;
}

function parseOptions(): Options {
  try {
    const { values } = parseArgs({
      options: { size: { type: 'string' }, windows: { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const windows = parseWindows(values.windows, '16,32,48,64,80,96,128');
    const size = parseSize(values.size ?? '256M');
    if (size % 8 !== 0) throw new Error('--size must be a multiple of 8 bytes');
    return { size, windows, rounds: parseRounds(values.rounds) };
  } catch (error) {
    console.error(`bench:window: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const { size, windows, rounds } = parseOptions();
  const windowProgram = buildBenchProgram('window-sender', ['scripts/bench/window-sender.c']);
  const kernelProgram = buildBenchProgram('netdump-sender', ['scripts/bench/netdump-sender.c']);
  const servers: ServerUnderTest[] = [ourServer, minimalServer(buildBenchProgram('minimal-server', ['scripts/bench/minimal-server.c']))];
  const senders: Array<[string, SenderCommand]> = [
    [KERNEL_LOOP, kernelSender(kernelProgram, true)],
    ...windows.map((window): [string, SenderCommand] => [
      `W=${window}`,
      (clientIp, serverIp, bytes) => [windowProgram, clientIp, serverIp, String(bytes), String(window)],
    ]),
  ];
  const hosts = createTestHostPair({ clientAddressInKernel: true });
  const results = new Map<string, SenderResult[]>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const server of servers) {
        for (const [name, command] of senders) {
          const key = `${server.name}|${name}`;
          results.set(key, [...(results.get(key) ?? []), await dumpInto(hosts, server, command, size, name !== KERNEL_LOOP)]);
        }
      }
    }
  } finally {
    hosts.destroy();
  }
  report(
    size,
    rounds,
    servers,
    senders.map(([name]) => name),
    results,
  );
}

function report(size: number, rounds: number, servers: ServerUnderTest[], senders: string[], results: Map<string, SenderResult[]>): void {
  const rate = (result: SenderResult) => result.bytes / result.seconds / 1e6;
  const medianRate = (server: ServerUnderTest, name: string) => median(results.get(`${server.name}|${name}`)!.map(rate));
  const resent = (server: ServerUnderTest, name: string) =>
    median(results.get(`${server.name}|${name}`)!.map((result) => result.retransmits));
  console.log(
    `bench:window: ${(size / 2 ** 20).toFixed(0)} MiB dumps of 1448-byte packets, sender on CPU ${CLIENT_CPU}, server on CPU ${SERVER_CPU}, ` +
      `median of ${rounds} rounds; every dump verified\n`,
  );
  console.log(
    formatTable(
      ['sender', ...servers.flatMap((server) => [`${server.name}: MB/s`, 'resent'])],
      senders.map((name) => [name, ...servers.flatMap((server) => [medianRate(server, name).toFixed(1), String(resent(server, name))])]),
    ),
  );
  console.log('');
  for (const server of servers) {
    const windowed = senders.filter((name) => name !== KERNEL_LOOP);
    const best = windowed.reduce((a, b) => (medianRate(server, b) > medianRate(server, a) ? b : a));
    const ratio = medianRate(server, best) / medianRate(server, KERNEL_LOOP);
    console.log(
      `${server.name}: best fixed window ${best}, ${medianRate(server, best).toFixed(1)} MB/s, ${ratio.toFixed(2)}x the kernel loop`,
    );
  }
}

runBench('bench:window', main);
