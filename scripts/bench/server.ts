/**
 * npm run bench:server — one kernel-style sender (C, over a kernel UDP
 * socket from port 20024 in the client namespace) dumps into (a) our server
 * and (b) a minimal C server doing netdumpd's per-packet work (receive,
 * pwrite, ack), in the same run, over veth. Prints MB/s and packets/s of
 * both and the ratio; every dump is verified and no packet may be lost.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { createTestHostPair, type TestHosts } from '../lib/testhosts.js';
import { buildBenchProgram, formatTable, median, PROJECT_ROOT, runBench } from './lib.js';

const USAGE = `usage: npm run bench:server -- [--size BYTES] [--runs N]
  --size BYTES  dump size (default 1073741824, 1 GiB; a multiple of 8)
  --runs N      dumps per server; the median is reported (default 1)`;

const SENDER_CPU = '0';
const SERVER_CPU = '1';

interface SenderResult {
  bytes: number;
  seconds: number;
  packets: number;
  retransmits: number;
  batches: number;
}

interface ServerUnderTest {
  name: string;
  /** Starts the server; resolves when it listens. Returns the file the dump lands in. */
  start(hosts: TestHosts, dir: string): Promise<{ child: ChildProcess; vmcore: string }>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${what} did not print ${pattern}`)), 10_000);
    lines.on('line', (line) => {
      if (pattern.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with status ${code}`)));
  });
}

const ourServer: ServerUnderTest = {
  name: 'our netdumpd (Node.js)',
  async start(hosts, dir) {
    const cli = path.join(PROJECT_ROOT, 'dist/src/cli/netdumpd.js');
    const args = ['-c', SERVER_CPU, process.execPath, cli, '-D', '-d', dir, '-P', path.join(dir, 'pid'), '-a', hosts.server.ip];
    const child = hosts.spawn(hosts.server.ns, 'taskset', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    await waitForLine(child, /^Waiting for clients\./, 'our server');
    return { child, vmcore: path.join(dir, `vmcore.${hosts.client.ip}.0`) };
  },
};

function minimalServer(program: string): ServerUnderTest {
  return {
    name: 'minimal C server (recv, pwrite, ack)',
    async start(hosts, dir) {
      const vmcore = path.join(dir, 'vmcore');
      const child = hosts.spawn(hosts.server.ns, 'taskset', ['-c', SERVER_CPU, program, hosts.server.ip, vmcore], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await waitForLine(child, /^listening/, 'the minimal C server');
      return { child, vmcore };
    },
  };
}

/** Every 8-byte word of the dump holds its own offset (see netdump-sender.c). */
function verifyDump(file: string, size: number): void {
  const actual = statSync(file).size;
  if (actual !== size) throw new Error(`${file} has ${actual} bytes, expected ${size}`);
  const chunk = Buffer.alloc(64 * 1024 * 1024);
  const fd = openSync(file, 'r');
  try {
    for (let offset = 0; offset < size; offset += chunk.length) {
      const length = readSync(fd, chunk, 0, Math.min(chunk.length, size - offset), offset);
      const words = new Uint32Array(chunk.buffer, chunk.byteOffset, length / 4);
      for (let i = 0; i < words.length; i += 2) {
        const expected = offset + i * 4;
        if (words[i] !== expected % 2 ** 32 || words[i + 1] !== Math.floor(expected / 2 ** 32)) {
          throw new Error(`${file}: wrong data at offset ${expected}`);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function dumpInto(hosts: TestHosts, server: ServerUnderTest, sender: string, size: number): Promise<SenderResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-bench-'));
  try {
    const { child, vmcore } = await server.start(hosts, dir);
    const exited = once(child, 'exit'); // the minimal server exits by itself after FINISHED
    const output = hosts.run(hosts.client.ns, 'taskset', ['-c', SENDER_CPU, sender, hosts.client.ip, hosts.server.ip, String(size)]);
    const result = JSON.parse(output) as SenderResult;
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the server finish FINISHED
    child.kill('SIGTERM');
    await exited;
    verifyDump(vmcore, size);
    if (result.retransmits !== 0) throw new Error(`${server.name}: ${result.retransmits} packets were lost and resent`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
      for (const server of servers) results.get(server.name)!.push(await dumpInto(hosts, server, sender, size));
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
    console.log(`\ntarget: ours >= 1.00 of the minimal C server: ${ratio.toFixed(2)} ${ratio >= 1 ? 'met' : 'NOT met'}`);
  } finally {
    hosts.destroy();
  }
}

runBench('bench:server', main);
