/**
 * The netdumpd server as a real process in a test host's namespace, with
 * its log (stdout in -D mode) collected line by line; and a handler script
 * that records how the server ran it.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { TestHosts } from '../../scripts/lib/testhosts.js';

/** The compiled server entry point. */
export const NETDUMPD = fileURLToPath(new URL('../../src/cli/netdumpd.js', import.meta.url));

export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Polls `probe` every 20 ms until it returns something other than undefined. */
export async function waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const matches = (line: string, pattern: string | RegExp) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));

export class NetdumpdServer {
  /** Every stdout line so far (the foreground log). */
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const waiter of this.waiters) waiter();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    // 'close', not 'exit': by then every line the server wrote has been read.
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /**
   * Runs `command args` in the namespace (TZ=UTC) and waits for "Waiting for
   * clients." on its stdout. The command must end up exec'ing netdumpd -D,
   * so that the child's pid is the server's.
   */
  static async spawn(hosts: TestHosts, command: string, args: string[], options: { cwd?: string } = {}): Promise<NetdumpdServer> {
    const child = hosts.spawn(hosts.server.ns, command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TZ: 'UTC' },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const server = new NetdumpdServer(child);
    const ready = server.waitForLine('Waiting for clients.', 10_000);
    const failed = server.exited.then(({ code, signal }) => {
      throw new Error(`netdumpd exited during start-up (${code ?? signal}): ${server.stderr}`);
    });
    failed.catch(() => undefined);
    try {
      await Promise.race([ready, failed]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return server;
  }

  /** node netdumpd.js -D <args> in the server namespace. */
  static start(hosts: TestHosts, args: string[], options: { cwd?: string } = {}): Promise<NetdumpdServer> {
    return NetdumpdServer.spawn(hosts, process.execPath, [NETDUMPD, '-D', ...args], options);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first log line at index >= from that matches, waiting for it if need be. */
  async waitForLine(pattern: string | RegExp, timeoutMs = 5000, from = 0): Promise<string> {
    const find = () => this.lines.slice(from).find((line) => matches(line, pattern));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = find();
      if (line !== undefined) return line;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`netdumpd never logged ${String(pattern)}; log:\n${this.lines.join('\n')}`);
      await new Promise<void>((resolve) => {
        const waiter = () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        };
        const timer = setTimeout(waiter, left);
        this.waiters.add(waiter);
      });
    }
  }

  countLines(pattern: string | RegExp): number {
    return this.lines.filter((line) => matches(line, pattern)).length;
  }

  /**
   * SIGTERM, then waits for the exit; after `graceMs` it kills the server,
   * whose event loop may be stuck (a bug under test) and never see the SIGTERM.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const kill = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(kill);
    }
  }
}

export interface HandlerRecord {
  /** "$@" */
  args: string[];
  /** The working directory (pwd). */
  cwd: string;
  /** What `env` printed. */
  env: string;
  /** The info file ($4) as the handler saw it. */
  info: string;
}

/**
 * A handler script (-i) that writes, for each run, a record of its
 * arguments, working directory, environment and the info file it was given,
 * to a directory outside the dump directory.
 */
export class HandlerRecorder {
  readonly script: string;
  readonly recordDir: string;

  constructor(dir: string) {
    this.script = path.join(dir, 'handler.sh');
    this.recordDir = path.join(dir, 'records');
    mkdirSync(this.recordDir);
    // The environment is empty: no PATH, so every command is named by its full path.
    writeFileSync(
      this.script,
      `#!/bin/sh
tmp='${this.recordDir}/.tmp.'$$
{
  printf '%s\\n' "$#" "$@"
  printf 'cwd=%s\\n' "$(pwd)"
  echo 'env:'
  /usr/bin/env
  echo 'info:'
  /bin/cat "$4"
} > "$tmp"
/bin/mv "$tmp" '${this.recordDir}/'"$1.$2.$$"
`,
    );
    chmodSync(this.script, 0o755);
  }

  records(): HandlerRecord[] {
    return readdirSync(this.recordDir)
      .filter((name) => !name.startsWith('.'))
      .sort()
      .map((name) => parseRecord(readFileSync(path.join(this.recordDir, name), 'latin1')));
  }

  /** Waits for the record of a handler run with these arguments (reason, ip, hostname, info, core). */
  async waitFor(args: string[], timeoutMs = 5000): Promise<HandlerRecord> {
    return waitUntil(
      () => this.records().find((record) => JSON.stringify(record.args) === JSON.stringify(args)),
      timeoutMs,
      `a handler run with ${args.join(' ')} (runs so far: ${JSON.stringify(this.records().map((r) => r.args))})`,
    );
  }

  /** The runs whose reason and client IP are these. */
  runsFor(reason: string, ip: string): HandlerRecord[] {
    return this.records().filter((record) => record.args[0] === reason && record.args[1] === ip);
  }
}

function parseRecord(text: string): HandlerRecord {
  const lines = text.split('\n');
  const count = Number(lines[0]);
  const args = lines.slice(1, 1 + count);
  const cwdLine = lines[1 + count]!;
  const envStart = 1 + count + 2; // after "cwd=…" and "env:"
  const infoMarker = lines.indexOf('info:', envStart);
  return {
    args,
    cwd: cwdLine.replace(/^cwd=/, ''),
    env: lines
      .slice(envStart, infoMarker)
      .map((line) => `${line}\n`)
      .join(''),
    info: lines.slice(infoMarker + 1).join('\n'),
  };
}
