/**
 * netdump's commands for reading dumps back, once they are on the server:
 * inspect, decrypt (decryptcore's job) and decompress; and for reading
 * traces: report.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { errorCodeOf, NetdumpError } from '../../errors/index.js';
import { compressionFormat, decompressFile } from '../dump/decompress.js';
import { decryptFile, unwrapKeyBlob } from '../dump/ekcd.js';
import { readFileHead } from '../dump/file-source.js';
import { inspectPath } from '../dump/inspect.js';
import { strerror } from '../../errors/strerror.js';
import { describeArgumentError, usageLines } from './argument-errors.js';

export const DUMP_TOOLS = ['inspect', 'decrypt', 'decompress', 'report'] as const;
export type DumpTool = (typeof DUMP_TOOLS)[number];

export const DUMP_TOOLS_USAGE = `netdump inspect FILE|DIR...
netdump decrypt --key PRIVATE.pem [-o OUTPUT] KEYFILE VMCORE_ENCRYPTED
netdump decompress [-o OUTPUT] VMCORE.gz|VMCORE.zst
netdump report [-o REPORT.html] TRACE...

  inspect      what a dump directory or file holds: each dump's info file
               (the KDH's fields and parity, how the dump ended), the
               core's form (plain, gzip, zstd, encrypted), the minidump
               header, and whether the core is as long as that header says
  decrypt      an encrypted dump (EKCD): unwraps key.<host>.<N> with the RSA
               private key (OAEP as 13+ wraps it, else PKCS#1 v1.5 as 12.x)
               and writes the decrypted core, by default next to it as
               vmcore.<host>.<N>[.gz|.zst]
  decompress   a .gz or .zst core to a plain one, by default without the
               suffix; a kernel's zstd core, one frame of unknown size, goes
               through Debian's zstd (apt-get install zstd)
  report       one self-contained HTML page (default report.html) from
               traces of netdump --trace, side by side: throughput, time per
               batch over time and its distribution, polls per batch, ack
               latency, retransmit rounds, and a summary table (it
               replaces an older page of the same name)

Inspect, decrypt and decompress never overwrite an existing file. Exit
status: 0 done, 1 a file could not be read or written, or is not what it
should be; 2 bad usage.`;

class ToolUsageError extends Error {}

export function isDumpTool(word: string | undefined): word is DumpTool {
  return DUMP_TOOLS.includes(word as DumpTool);
}

/** Runs one command; exits with its status. `-h` or `--help` (before a `--`) prints the tools' usage. */
export async function runDumpTool(tool: DumpTool, argv: string[]): Promise<never> {
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (options.includes('-h') || options.includes('--help')) {
    process.stdout.write(`${DUMP_TOOLS_USAGE}\n`);
    process.exit(0);
  }
  try {
    await run(tool, argv);
    process.exit(0);
  } catch (error) {
    if (error instanceof ToolUsageError) {
      process.stderr.write(usageLines(`netdump ${tool}`, error.message).replace(`'netdump ${tool} --help'`, "'netdump --help'"));
      process.exit(2);
    }
    if (error instanceof NetdumpError) {
      process.stderr.write(`netdump ${tool}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

function options(argv: string[], withKey: boolean): { values: { key?: string; o?: string }; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { o: { type: 'string', short: 'o' }, ...(withKey ? { key: { type: 'string' } } : {}) },
    });
    return { values: values as { key?: string; o?: string }, positionals };
  } catch (error) {
    throw new ToolUsageError(describeArgumentError(error));
  }
}

async function run(tool: DumpTool, argv: string[]): Promise<void> {
  if (tool === 'inspect') {
    const { positionals } = options(argv, false);
    if (positionals.length === 0) throw new ToolUsageError('give a dump directory or file');
    for (const target of positionals) process.stdout.write(await inspectPath(target));
    return;
  }
  if (tool === 'decrypt') return decrypt(argv);
  if (tool === 'report') return report(argv);
  return decompress(argv);
}

async function report(argv: string[]): Promise<void> {
  const { values, positionals } = options(argv, false);
  if (positionals.length === 0) throw new ToolUsageError('give one or more traces of netdump --trace');
  const output = values.o ?? 'report.html';
  // Vega and Vega-Lite take ~0.15 s and 15 MB of heap to load: only this tool needs them, not a dump.
  const { writeReport } = await import('../report/report.js');
  const charts = await writeReport(positionals, output);
  process.stdout.write(`${output}: ${charts.length} charts from ${positionals.length} trace${positionals.length === 1 ? '' : 's'}\n`);
}

function decrypt(argv: string[]): void {
  const { values, positionals } = options(argv, true);
  if (values.key === undefined) throw new ToolUsageError('give the RSA private key: --key PRIVATE.pem');
  if (positionals.length !== 2) throw new ToolUsageError('give the key file and the encrypted core: KEYFILE VMCORE_ENCRYPTED');
  const [keyFile, core] = positionals as [string, string];
  const output = values.o ?? defaultName(core, /^vmcore_encrypted\./, 'vmcore.');
  const privateKey = readPrivateKey(values.key);
  const keyBlob = readInput(keyFile, 'the key file');
  requireRegularFile(core, 'the encrypted core');
  const ekcd = withFileErrors(keyFile, () => unwrapKeyBlob(keyBlob, privateKey));
  const { encryption, bytes } = withFileErrors(core, () => decryptFile(ekcd, core, output));
  process.stdout.write(`${output}: ${bytes} bytes decrypted (${encryption === 1 ? 'AES-256-CBC' : 'ChaCha20'})\n`);
}

async function decompress(argv: string[]): Promise<void> {
  const { values, positionals } = options(argv, false);
  if (positionals.length !== 1) throw new ToolUsageError('give one compressed core: VMCORE.gz or VMCORE.zst');
  const core = positionals[0]!;
  requireRegularFile(core, 'the core');
  const format = compressionFormat(withFileErrors(core, () => readFileHead(core, 4)));
  if (format === 'none') throw new NetdumpError('EINVAL', `${core} is neither gzip nor zstd`);
  const output = values.o ?? defaultName(core, /\.(gz|zst)$/, '');
  const bytes = await withFileErrorsAsync(core, () => decompressFile(core, output, format));
  process.stdout.write(`${output}: ${bytes} bytes (${format})\n`);
}

/** Refuses, in words, what is missing or not a file, before any reading starts. */
function requireRegularFile(file: string, what: string): void {
  if (!whileReading(what, file, () => statSync(file)).isFile())
    throw new NetdumpError('EINVAL', `cannot read ${what} ${file}: not a regular file`);
}

function readInput(file: string, what: string): Buffer {
  requireRegularFile(file, what);
  return whileReading(what, file, () => readFileSync(file));
}

/** `action` on `file`, its failure said as "cannot read WHAT FILE: reason". */
function whileReading<T>(what: string, file: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw new NetdumpError(errorCodeOf((error as NodeJS.ErrnoException).code), `cannot read ${what} ${file}: ${strerror(error)}`);
  }
}

function readPrivateKey(file: string): KeyObject {
  const pem = readInput(file, 'the private key');
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new NetdumpError('EINVAL', `cannot read the private key ${file}: not a private key in PEM or DER (${(error as Error).message})`);
  }
}

/** The input's name with `pattern` replaced, next to it; no default when the name does not match. */
function defaultName(input: string, pattern: RegExp, replacement: string): string {
  const name = path.basename(input);
  if (!pattern.test(name)) throw new ToolUsageError(`cannot derive an output name from ${name}: give -o OUTPUT`);
  return path.join(path.dirname(input), name.replace(pattern, replacement));
}

/** A failure reading or writing `file` (the input) or the output, in words that name the file. */
function fileError(file: string, error: unknown): NetdumpError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return new NetdumpError('EEXIST', `${(error as NodeJS.ErrnoException).path} exists: remove it or give -o`);
  if (error instanceof NetdumpError) return new NetdumpError(error.code, `${file}: ${error.message}`);
  return new NetdumpError(errorCodeOf(code), `${(error as NodeJS.ErrnoException).path ?? file}: ${strerror(error)}`);
}

function withFileErrors<T>(file: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw fileError(file, error);
  }
}

async function withFileErrorsAsync<T>(file: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw fileError(file, error);
  }
}
