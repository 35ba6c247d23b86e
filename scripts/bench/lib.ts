/** Shared pieces of the benchmarks: building their C programs and printing tables. */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { setThreadCpus, threadCpus } from '../../native/index.js';
import { ETHERMTU } from '../../drivers/driver.js';
import { ETHERNET_HEADER_SIZE } from '../../src/wire/index.js';
import type { TestHosts } from '../lib/testhosts.js';

/** Where the benchmarks put the client and the server: one core each. */
export const CLIENT_CPU = '0';
export const SERVER_CPU = '1';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Compiles a benchmark's C program into build/bench/ and returns its path. */
export function buildBenchProgram(name: string, sources: string[]): string {
  const output = path.join(PROJECT_ROOT, 'build', 'bench', name);
  mkdirSync(path.dirname(output), { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', output, ...sources.map((source) => path.join(PROJECT_ROOT, source))], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch {
    throw new Error(`cannot compile ${name} from ${sources.join(' ')}: is a C compiler (cc) installed?`);
  }
  return output;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** The value a fraction `q` of the way through the sorted values, interpolated. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const below = Math.floor(at);
  return sorted[below]! + (sorted[Math.ceil(at)]! - sorted[below]!) * (at - below);
}

/**
 * Round `round`'s order of the things a benchmark compares: forward and
 * backward in turn, starting one later every two rounds, so that each takes
 * every place and runs on both sides of its neighbours.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const start = Math.floor(round / 2) % items.length;
  const rotated = [...items.slice(start), ...items.slice(0, start)];
  return round % 2 === 0 ? rotated : rotated.reverse();
}

/**
 * A ratio as text, with `digits` decimals or as many more as it takes not
 * to read as its target when it is not: 4.996 against 5 shows as 4.996,
 * not as a "5.00" that is not met.
 */
export function ratioText(ratio: number, target: number, digits = 2): string {
  let text = ratio.toFixed(digits);
  while (ratio !== target && Number(text) === target && digits < 6) text = ratio.toFixed(++digits);
  return ratio !== target && Number(text) === target ? String(ratio) : text;
}

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/**
 * Pins the calling thread to the last CPU it may use, and with it the C
 * programs it starts, so that ours and the reference send from one core
 * instead of wherever the scheduler puts them: on this shared 2-core
 * machine, unpinned ratios drift by ±20 %. Threads started earlier (V8's
 * compiler and collector helpers, libuv's pool) keep every CPU. Returns
 * the CPU.
 */
export function pinThisThread(): number {
  const cpu = threadCpus().at(-1)!;
  setThreadCpus([cpu]);
  return cpu;
}

/** Runs `start` with the calling thread allowed on `cpus`, so the threads it starts (writer workers) are too. */
export function startingThreadsOn<T>(cpus: readonly number[], start: () => T): T {
  const pinned = threadCpus();
  setThreadCpus(cpus);
  try {
    return start();
  } finally {
    setThreadCpus(pinned);
  }
}

/** Our server on SERVER_CPU in the server namespace, writing into `dir`; resolves once it waits for clients. */
export function startServer(hosts: TestHosts, dir: string): Promise<ChildProcess> {
  const cli = path.join(PROJECT_ROOT, 'dist/src/cli/netdumpd.js');
  const child = hosts.spawn(
    hosts.server.ns,
    'taskset',
    ['-c', SERVER_CPU, process.execPath, cli, '-D', '-d', dir, '-P', path.join(dir, '.pid')],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('our server did not start')), 10_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('Waiting for clients.')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

/** Deletes received dumps as soon as they are complete, so three 1 GiB dumps need no 3 GiB of disk. */
export function removeDumps(dir: string): void {
  for (const name of readdirSync(dir)) if (name.startsWith('vmcore')) unlinkSync(path.join(dir, name));
}

/** A benchmark's --rounds (or `option`): 3 unless given, a whole number from 1 to 20; throws with the reason. */
export function parseRounds(text: string | undefined, option = '--rounds'): number {
  const rounds = Number(text ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`${option} must be an integer from 1 to 20, not '${text}'`);
  return rounds;
}

/** A benchmark's --windows: packets per window, comma-separated, each from 1 to 1024 (window-sender.c's limit); throws with the reason. */
export function parseWindows(text: string | undefined, fallback: string): number[] {
  const windows = (text ?? fallback).split(',').map(Number);
  if (windows.some((window) => !Number.isInteger(window) || window < 1 || window > 1024)) {
    throw new Error(`--windows: each must be a whole number of packets from 1 to 1024, not '${text}'`);
  }
  return windows;
}

/** Runs a benchmark's main; a failure is one line naming the benchmark, and exit status 1. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(`${name}: ${(error as Error).message}`);
    process.exit(1);
  });
}

/** The blast's frames: a full-MTU frame, its CRC left out (the kernel adds none on a veth). */
const BLAST_FRAME_SIZE = ETHERMTU + ETHERNET_HEADER_SIZE;

/** The addon's raw-frame blast (C sendmmsg of 1514-byte frames, blast.c) from the client: bytes per second, the link's ceiling for scale. */
export function rawBlast(hosts: TestHosts, blast: string): number {
  const output = hosts.run(hosts.client.ns, 'taskset', [
    '-c',
    CLIENT_CPU,
    blast,
    hosts.client.ns,
    hosts.client.iface,
    hosts.server.mac,
    String(BLAST_FRAME_SIZE),
    '400000',
    '64',
  ]);
  const { frames, seconds } = JSON.parse(output) as { frames: number; seconds: number };
  return (frames * BLAST_FRAME_SIZE) / seconds;
}
