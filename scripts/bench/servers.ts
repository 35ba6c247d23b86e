/**
 * What the benchmarks that dump into a server share: our server and the
 * minimal C server (netdumpd's per-packet work: wait, receive, buffer, ack) as
 * servers under test, a dump by one of the C senders into either, and the
 * check that the file holds the sender's pattern.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import type { CliReport } from '../../src/cli/netdump.js';
import { verifySyntheticVmcore } from '../lib/synthetic-vmcore.js';
import type { TestHosts } from '../lib/testhosts.js';
import { CLIENT_CPU as SENDER_CPU, PROJECT_ROOT, SERVER_CPU } from './lib.js';

export interface SenderResult {
  bytes: number;
  seconds: number;
  packets: number;
  retransmits: number;
  batches: number;
}

/** What the minimal C server says of its waits for VMCORE packets (minimal-server.c), µs. */
export interface ServerWaits {
  dataMicros: number;
  waitedMicros: number;
  longWaits: number;
  longWaitMicros: number;
}

export interface ServerUnderTest {
  name: string;
  /**
   * Starts the server; resolves when it listens. Returns the file the dump
   * lands in and, for a server that reports them, its waits once it has ended.
   */
  start(hosts: TestHosts, dir: string): Promise<{ child: ChildProcess; vmcore: string; waits?: Promise<ServerWaits | undefined> }>;
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

export const ourServer: ServerUnderTest = {
  name: 'our netdumpd (Node.js)',
  async start(hosts, dir) {
    const cli = path.join(PROJECT_ROOT, 'dist/src/cli/netdumpd.js');
    const args = ['-c', SERVER_CPU, process.execPath, cli, '-D', '-d', dir, '-P', path.join(dir, 'pid'), '-a', hosts.server.ip];
    const child = hosts.spawn(hosts.server.ns, 'taskset', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    await waitForLine(child, /^Waiting for clients\./, 'our server');
    return { child, vmcore: path.join(dir, `vmcore.${hosts.client.ip}.0`) };
  },
};

export function minimalServer(program: string): ServerUnderTest {
  return {
    name: "minimal C server (netdumpd's loop: wait, recv, buffer, ack)",
    async start(hosts, dir) {
      const vmcore = path.join(dir, 'vmcore');
      const child = hosts.spawn(hosts.server.ns, 'taskset', ['-c', SERVER_CPU, program, hosts.server.ip, vmcore], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const waits = new Promise<ServerWaits | undefined>((resolve) => {
        const lines = createInterface({ input: child.stdout! });
        lines.on('line', (line) => {
          if (!line.startsWith('{')) return;
          try {
            resolve(JSON.parse(line) as ServerWaits);
          } catch {
            resolve(undefined); // a cut line: the run still counts, without its waits
          }
        });
        lines.once('close', () => resolve(undefined));
      });
      await waitForLine(child, /^listening/, 'the minimal C server');
      return { child, vmcore, waits };
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

/** A C sender's command line for a dump of `size` bytes from `clientIp` to `serverIp`. */
export type SenderCommand = (clientIp: string, serverIp: string, size: number) => string[];

/** netdump-sender's: `-k` runs the kernel's wait loop. */
export const kernelSender =
  (program: string, kernelWait = false): SenderCommand =>
  (clientIp, serverIp, size) => [program, ...(kernelWait ? ['-k'] : []), clientIp, serverIp, String(size)];

/** Told the server's waits after a dump, by a server that reports them. */
export type WaitsListener = (waits: ServerWaits) => void;

/**
 * Runs `dump` against a fresh start of `server`, stops the server, verifies
 * the file with `verify`; returns what `dump` did, and tells `onWaits` the
 * server's waits if it reported them.
 */
async function intoFreshServer<T>(
  hosts: TestHosts,
  server: ServerUnderTest,
  dump: () => T,
  verify: (vmcore: string) => void,
  onWaits?: WaitsListener,
): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-bench-'));
  try {
    const { child, vmcore, waits } = await server.start(hosts, dir);
    const exited = once(child, 'exit'); // the minimal server exits by itself after FINISHED
    let result: T;
    try {
      result = dump();
      await new Promise((resolve) => setTimeout(resolve, 500)); // let the server finish FINISHED
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    verify(vmcore);
    const reported = await waits;
    if (reported !== undefined) onWaits?.(reported);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One dump of `size` bytes by `sender` into a fresh start of `server`; the
 * file is verified. Resent packets fail it unless `resendsAllowed` (a window
 * past the server's receive buffer loses some).
 */
export async function dumpInto(
  hosts: TestHosts,
  server: ServerUnderTest,
  sender: SenderCommand,
  size: number,
  resendsAllowed = false,
  onWaits?: WaitsListener,
): Promise<SenderResult> {
  const args = ['-c', SENDER_CPU, ...sender(hosts.client.ip, hosts.server.ip, size)];
  const result = await intoFreshServer(
    hosts,
    server,
    () => JSON.parse(hosts.run(hosts.client.ns, 'taskset', args)) as SenderResult,
    (vmcore) => verifyDump(vmcore, size),
    onWaits,
  );
  if (result.retransmits !== 0 && !resendsAllowed) throw new Error(`${server.name}: ${result.retransmits} packets were lost and resent`);
  return result;
}

/** Runs a command for its stdout; its stderr is shown only if it fails (our client's console goes there with --json). */
function runQuietly(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stderr = '' } = error as { stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed:\n${stderr.trim().split('\n').slice(-3).join('\n')}`);
  }
}

/**
 * One dump of a `size`-byte synthetic minidump by our client (CLI options
 * `args`, --profile among them) into a fresh start of `server`, pinned as
 * the C senders are; the file must be the minidump byte for byte.
 */
export async function ourClientInto(
  hosts: TestHosts,
  server: ServerUnderTest,
  args: string[],
  size: number,
  minidumpVersion: 2 | 3 = 3,
  onWaits?: WaitsListener,
): Promise<CliReport> {
  const cli = path.join(PROJECT_ROOT, 'dist/src/cli/netdump.js');
  const command = ['-c', SENDER_CPU, process.execPath, cli, '--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip];
  command.push(...args, '--synthetic', String(size), '--json', hosts.client.iface);
  return intoFreshServer(
    hosts,
    server,
    () => JSON.parse(runQuietly('taskset', command).trim().split('\n').pop()!) as CliReport,
    (vmcore) => verifySyntheticVmcore(vmcore, size, minidumpVersion),
    onWaits,
  );
}
