/**
 * npm run bench:server — one kernel-style sender (C, over a kernel UDP
 * socket from port 20024 in the client namespace) dumps into (a) our server
 * and (b) a minimal C server doing netdumpd's per-packet work (wait,
 * receive, buffer, ack), in the same run, over veth. Prints MB/s and packets/s of
 * both and the ratio; every dump is verified and no packet may be lost.
 */
import { parseArgs } from 'node:util';

import { createTestHostPair } from '../lib/testhosts.js';
import { buildBenchProgram, CLIENT_CPU as SENDER_CPU, formatTable, median, ratioText, runBench, SERVER_CPU } from './lib.js';
import { dumpInto, kernelSender, minimalServer, ourServer, type SenderResult } from './servers.js';

const USAGE = `usage: npm run bench:server -- [--size BYTES] [--runs N]
  --size BYTES  dump size (default 1073741824, 1 GiB; a multiple of 8)
  --runs N      dumps per server; the median is reported (default 1)`;

function parseOptions(): { size: number; runs: number } {
  try {
    const { values } = parseArgs({
      options: { size: { type: 'string' }, runs: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const options = { size: Number(values.size ?? 2 ** 30), runs: Number(values.runs ?? 1) };
    if (!(Number.isSafeInteger(options.size) && options.size >= 1 << 20 && options.size % 8 === 0 && options.runs >= 1)) {
      throw new Error('--size must be a multiple of 8 of at least 1 MiB, --runs at least 1');
    }
    return options;
  } catch (error) {
    console.error(`bench:server: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const { size, runs } = parseOptions();
  const sender = buildBenchProgram('netdump-sender', ['scripts/bench/netdump-sender.c']);
  const servers = [ourServer, minimalServer(buildBenchProgram('minimal-server', ['scripts/bench/minimal-server.c']))];
  const hosts = createTestHostPair({ clientAddressInKernel: true });
  try {
    const results = new Map<string, SenderResult[]>(servers.map((server) => [server.name, []]));
    for (let run = 0; run < runs; run++) {
      for (const server of servers) results.get(server.name)!.push(await dumpInto(hosts, server, kernelSender(sender), size));
    }
    const rate = (result: SenderResult) => result.bytes / result.seconds;
    const medianOf = (name: string) => {
      const list = results.get(name)!;
      const middle = median(list.map(rate));
      return list.find((result) => rate(result) === middle) ?? list[0]!;
    };
    const reference = rate(medianOf(servers[1]!.name));
    console.log(
      `bench:server: ${(size / 2 ** 20).toFixed(0)} MiB dumps, 64 KiB batches of 1448-byte packets, sender on CPU ${SENDER_CPU}, ` +
        `server on CPU ${SERVER_CPU}, median of ${runs}; every dump verified, no packet lost\n`,
    );
    console.log(
      formatTable(
        ['server', 'MB/s', 'packets/s', 'ms per batch', 'ratio to C'],
        servers.map((server) => {
          const result = medianOf(server.name);
          return [
            server.name,
            (rate(result) / 1e6).toFixed(1),
            Math.round(result.packets / result.seconds).toLocaleString('en-US'),
            ((result.seconds / result.batches) * 1000).toFixed(3),
            (rate(result) / reference).toFixed(2),
          ];
        }),
      ),
    );
    const ratio = rate(medianOf(servers[0]!.name)) / reference;
    console.log(`\ntarget: ours >= 1.00 of the minimal C server: ${ratioText(ratio, 1)} ${ratio >= 1 ? 'met' : 'NOT met'}`);
  } finally {
    hosts.destroy();
  }
}

runBench('bench:server', main);
