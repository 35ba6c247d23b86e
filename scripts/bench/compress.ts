/**
 * npm run bench:compress — what compression and encryption cost or save a
 * faithful (freebsd13) dump: plain, -z, -Z, each cipher, and ChaCha20 with
 * zstd, on a synthetic minidump (sparse, as a real one is) and on random
 * data (the worst case), to our server over veth. Each round runs every
 * mode on both inputs (in the rounds' changing order); a mode's rate is
 * uncompressed megabytes per second from the herald's ack to FINISHED's,
 * and its ratio is against plain in the same round, reported as the median
 * of the rounds. The claim checked: a compressed dump of a sparse minidump
 * finishes sooner than the plain one.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import type { DumpReport } from '../../src/client/netdump.js';
import { parseSize } from '../../src/cli/size.js';
import { createTestHostPair, type TestHosts } from '../lib/testhosts.js';
import {
  CLIENT_CPU,
  formatTable,
  median,
  ratioText,
  PROJECT_ROOT,
  removeDumps,
  roundOrder,
  startServer,
  runBench,
  parseRounds,
} from './lib.js';

const USAGE = `usage: npm run bench:compress -- [--size SIZE] [--random SIZE] [--rounds N]
  --size SIZE     synthetic minidump size (default 256M; K, M, G suffixes)
  --random SIZE   random-data dump size (default 64M)
  --rounds N      rounds of every mode on both inputs (default 3)`;

const MODES: Array<{ name: string; args: (key: string) => string[] }> = [
  { name: 'plain', args: () => [] },
  { name: '-z (gzip)', args: () => ['-z'] },
  { name: '-Z (zstd)', args: () => ['-Z'] },
  { name: '-k, ChaCha20', args: (key) => ['-k', key, '-C', 'chacha20'] },
  { name: '-k, AES-256-CBC', args: (key) => ['-k', key, '-C', 'aes256-cbc'] },
  { name: '-k, ChaCha20, -Z', args: (key) => ['-k', key, '-C', 'chacha20', '-Z'] },
];

interface Input {
  name: string;
  /** The dump's arguments: --synthetic SIZE, or a file. */
  args: string[];
  bytes: number;
}

interface Run {
  /** Uncompressed MB per second, herald ack to FINISHED ack. */
  rate: number;
  sent: number;
}

function dump(hosts: TestHosts, input: Input, extra: string[]): Run {
  const cli = path.join(PROJECT_ROOT, 'dist/src/cli/netdump.js');
  const args = ['-c', CLIENT_CPU, process.execPath, cli, '--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip];
  args.push('--json', ...extra, hosts.client.iface, ...input.args);
  const output = execFileSync('taskset', args, { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  const report = JSON.parse(output.trim().split('\n').pop()!) as DumpReport;
  return { rate: input.bytes / 1e6 / report.seconds, sent: report.bytes };
}

function parseOptions(): { size: number; random: number; rounds: number } {
  try {
    const { values } = parseArgs({
      options: { size: { type: 'string' }, random: { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const rounds = parseRounds(values.rounds);
    return { size: parseSize(values.size ?? '256M'), random: parseSize(values.random ?? '64M'), rounds };
  } catch (error) {
    console.error(`bench:compress: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const { size, random, rounds } = parseOptions();
  const hosts = createTestHostPair();
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-bench-compress-'));
  try {
    const keyFile = path.join(dir, 'public.pem');
    writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
    const randomFile = path.join(dir, 'random.bin');
    writeFileSync(randomFile, randomBytes(random));
    const inputs: Input[] = [
      { name: `synthetic minidump, ${size / 2 ** 20} MiB`, args: ['--synthetic', String(size)], bytes: size },
      { name: `random data, ${random / 2 ** 20} MiB`, args: [randomFile], bytes: random },
    ];
    const dumps = path.join(dir, 'dumps');
    execFileSync('mkdir', [dumps]);
    const server = await startServer(hosts, dumps);
    const exited = once(server, 'exit');
    const runs = inputs.map(() => MODES.map((): Run[] => []));
    for (let round = 0; round < rounds; round++) {
      for (const [inputIndex, input] of inputs.entries()) {
        for (const mode of roundOrder([...MODES.keys()], round)) {
          runs[inputIndex]![mode]!.push(dump(hosts, input, MODES[mode]!.args(keyFile)));
          removeDumps(dumps);
        }
      }
    }
    server.kill('SIGTERM');
    await exited;
    console.log(`bench:compress: freebsd13 dumps to our server over veth, ${rounds} rounds; client on CPU ${CLIENT_CPU}\n`);
    const rows = inputs.flatMap((input, inputIndex) =>
      MODES.map((mode, modeIndex) => {
        const mine = runs[inputIndex]![modeIndex]!;
        const plain = runs[inputIndex]![0]!;
        const ratios = mine.map((run, round) => run.rate / plain[round]!.rate);
        return [
          input.name,
          mode.name,
          median(mine.map((run) => run.rate)).toFixed(1),
          (median(mine.map((run) => run.sent)) / 2 ** 20).toFixed(1),
          median(ratios).toFixed(2),
          ratios.map((ratio) => ratio.toFixed(2)).join(' '),
        ];
      }),
    );
    console.log(formatTable(['input', 'mode', 'MB/s (uncompressed)', 'MiB sent', 'vs plain', 'vs plain by round'], rows));
    for (const mode of [1, 2]) {
      const ratio = median(runs[0]![mode]!.map((run, round) => run.rate / runs[0]![0]![round]!.rate));
      console.log(
        `target: ${MODES[mode]!.name} of the synthetic minidump finishes sooner than plain: ${ratioText(ratio, 1)}x ${ratio > 1 ? 'met' : 'NOT met'}`,
      );
    }
  } finally {
    hosts.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench:compress', main);
