/**
 * Client tests' harness: the netdump CLI run as a real process (it opens
 * the interface inside the client namespace itself), netdumpd run as a real
 * process in the server namespace, dump files, and the checks on what
 * lands in the dump directory.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { createTestHostPair, type TestHostOptions, type TestHosts } from '../../scripts/lib/testhosts.js';
import type { CliReport } from '../../src/cli/netdump.js';
import { SyntheticMinidump } from '../../src/dump/minidump.js';

export const NETDUMP_CLI = fileURLToPath(new URL('../../src/cli/netdump.js', import.meta.url));
export const NETDUMPD_CLI = fileURLToPath(new URL('../../src/cli/netdumpd.js', import.meta.url));

export interface ClientResult {
  /** Exit status, or null if killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time from spawn to exit. */
  ms: number;
}

export interface RunOptions {
  /** SIGKILL after this long (a hung client must not hang the suite). Default 30 s. */
  timeoutMs?: number;
  /** Called with each stdout chunk as it arrives, and a way to signal the client. */
  onStdout?: (chunk: string, signal: (name: NodeJS.Signals) => void) => void;
  /** Run as user nobody, without capabilities (setpriv). */
  asNobody?: boolean;
  /** On a terminal: under script(1)'s pseudo-terminal, whose output (stdout and stderr together) is stdout. */
  terminal?: boolean;
  /** Pinned to this one CPU (taskset -c, which becomes the client: signals reach it). */
  cpu?: number;
}

/** One shell word, for script -c. */
const shellWord = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];

/**
 * Whether user nobody can load the CLI: a checkout in a directory only its
 * owner may enter (mode 0700, as a home directory often is) cannot run as
 * anyone else, and a test of what netdump says without root has no subject.
 */
export function nobodyCanRunNetdump(): boolean {
  try {
    execFileSync(
      AS_NOBODY[0]!,
      [...AS_NOBODY.slice(1), process.execPath, '-e', `require('node:fs').readFileSync(${JSON.stringify(NETDUMP_CLI)})`],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
}

/** Runs `node netdump.js <args>` and collects its output and exit status. */
export function runNetdump(args: string[], options: RunOptions = {}): Promise<ClientResult> {
  const started = process.hrtime.bigint();
  const pinned = options.cpu === undefined ? [] : ['taskset', '-c', String(options.cpu)];
  let command = [...pinned, ...(options.asNobody ? AS_NOBODY : []), process.execPath, NETDUMP_CLI, ...args];
  if (options.terminal) command = ['script', '--quiet', '--flush', '--return', '--command', command.map(shellWord).join(' '), '/dev/null'];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    options.onStdout?.(chunk, (name) => child.kill(name));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 });
    });
  });
}

/** The arguments every client run in a test host pair starts with: namespace, server, client address. */
export function hostArgs(hosts: TestHosts): string[] {
  return ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip];
}

/** Fails with the client's whole output if the status is not the expected one. */
export function assertStatus(result: ClientResult, status: number): void {
  assert.equal(
    result.status,
    status,
    `netdump exited ${result.status ?? result.signal}, expected ${status}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
  );
}

/** netdumpd -D as a real process in a namespace (TZ=UTC), its log collected line by line. */
export class Netdumpd {
  readonly lines: string[] = [];
  stderr = '';
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const waiter of [...this.waiters]) waiter();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  static async start(hosts: TestHosts, dumpDir: string, ns = hosts.server.ns): Promise<Netdumpd> {
    const child = hosts.spawn(ns, process.execPath, [NETDUMPD_CLI, '-D', '-d', dumpDir, '-P', path.join(dumpDir, '.netdumpd.pid')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TZ: 'UTC' },
    });
    const server = new Netdumpd(child);
    try {
      await server.waitForLine(/^Waiting for clients\.$/, 10_000);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return server;
  }

  /** Resolves with the first log line matching `pattern`, waiting up to `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((candidate) => pattern.test(candidate));
        if (line === undefined) return false;
        cleanUp();
        resolve(line);
        return true;
      };
      const onExit = () => {
        if (!check()) {
          cleanUp();
          reject(new Error(`netdumpd exited before logging ${pattern}; log:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        cleanUp();
        reject(
          new Error(`netdumpd did not log ${pattern} within ${timeoutMs} ms; log:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`),
        );
      }, timeoutMs);
      const cleanUp = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.child.off('exit', onExit);
      };
      this.waiters.add(check);
      this.child.once('exit', onExit);
      check();
    });
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

/** Writes `size` random bytes to `dir/name` and returns the path and the bytes. */
export function writeRandomDump(dir: string, name: string, size: number): { file: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return { file, bytes };
}

/** What the server must store for a file dump: the file, zero-padded to a multiple of 4096 (the dumper's block). */
export function paddedToBlock(bytes: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(bytes.length / 4096) * 4096);
  bytes.copy(padded);
  return padded;
}

/** The bytes of a synthetic minidump, as the client generates them. */
export function syntheticBytes(size: number, version: 2 | 3): Buffer {
  const whole = Buffer.alloc(size);
  for (const write of new SyntheticMinidump({ size, version }).writes()) whole.set(write.data, write.offset);
  return whole;
}

/** Asserts the file holds exactly `expected`, naming the first differing offset if not. */
export function assertFileBytes(file: string, expected: Buffer): void {
  const actual = readFileSync(file);
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
  assert.fail(`${file}: ${actual.length} bytes, expected ${expected.length}; first difference at offset ${at}`);
}

export interface InfoExpectation {
  dumpLength: number;
  hostname: string;
  panic: string;
  /** ctime(3) in UTC of the --dump-time given. */
  dumptime: string;
  versionString?: string;
}

/** ctime(3) in UTC: "Tue Nov 14 22:13:20 2023". */
export function ctimeUtc(seconds: number): string {
  const date = new Date(seconds * 1000);
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][date.getUTCDay()];
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][date.getUTCMonth()];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${weekday} ${month} ${String(date.getUTCDate()).padStart(2, ' ')} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
}

/** Checks the lines of a netdumpd info file that the client controls. */
export function assertInfoFile(file: string, expected: InfoExpectation): void {
  const info = readFileSync(file, 'utf8');
  const lines = [
    `  Dump Length: ${expected.dumpLength}B (${expected.dumpLength >> 20} MB)\n`,
    '  Blocksize: 4096\n',
    `  Dumptime: ${expected.dumptime}\n`,
    `  Hostname: ${expected.hostname}\n`,
    `  Panic String: ${expected.panic}\n`,
    '  Header Parity Check: Pass\n',
    ...(expected.versionString === undefined ? [] : [`  Version String: ${expected.versionString}`]),
  ];
  for (const line of lines) assert.ok(info.includes(line), `${file} lacks ${JSON.stringify(line)}:\n${info}`);
  assert.ok(info.endsWith('Dump complete\n'), `${file} does not end in "Dump complete":\n${info}`);
}

export type { CliReport };

/** The --json summary, which is all of stdout (the kernel's console goes to stderr then). */
export function jsonReport(result: ClientResult): CliReport {
  const lines = result.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1, `stdout holds more than the JSON summary:\n${result.stdout}`);
  assert.ok(lines[0]!.startsWith('{'), `no JSON summary in:\n${result.stdout}`);
  return JSON.parse(lines[0]!) as CliReport;
}

/** Test hosts, a random dump file, and netdumpd serving a fresh dump directory: what dump-after-dump tests share. */
export interface ServedDump {
  hosts: TestHosts;
  dir: string;
  dumpDir: string;
  dumpFile: string;
  /** What the vmcore must hold: the file, zero-padded to a block. */
  expected: Buffer;
  server: Netdumpd;
}

/** Sets up a ServedDump of `size` random bytes; on failure, releases what it made. */
export async function startServedDump(
  prefix: string,
  size: number,
  prepare: (hosts: TestHosts) => void = () => undefined,
  hostOptions: TestHostOptions = {},
): Promise<ServedDump> {
  const hosts = createTestHostPair(hostOptions);
  const dir = makeTempDir(prefix);
  try {
    prepare(hosts);
    const dumpDir = path.join(dir, 'dumps');
    mkdirSync(dumpDir);
    const { file, bytes } = writeRandomDump(dir, 'dump.bin', size);
    const server = await Netdumpd.start(hosts, dumpDir);
    return { hosts, dir, dumpDir, dumpFile: file, expected: paddedToBlock(bytes), server };
  } catch (error) {
    hosts.destroy();
    removeDir(dir);
    throw error;
  }
}

/** Stops what startServedDump started; safe on a partial or undefined one. */
export async function stopServedDump(served: ServedDump | undefined): Promise<void> {
  if (served === undefined) return;
  try {
    await served.server.stop();
  } finally {
    served.hosts.destroy();
    removeDir(served.dir);
  }
}
