/**
 * netdump inspect: what savecore and kgdb users look at first, for a
 * netdumpd dump directory or one of its files: the info file (the KDH's
 * fields and parity as netdumpd wrote them, and how the dump ended), the
 * core's form (plain, gzip, zstd, encrypted), the minidump header, and
 * whether the core holds as many bytes as that header says it should.
 */
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

import { NetdumpError } from '../../errors/index.js';
import { KERNELDUMPHEADER_SIZE, KERNELDUMPMAGIC, parseKerneldumpHeader } from '../wire/index.js';
import { compressionFormat, peekDecompressed, type CompressionFormat } from './decompress.js';
import { countSetPages, MINIDUMP_MAGIC, minidumpSectionOffsets, parseMinidumpHeader } from './minidump.js';
import { readFileHead } from './file-source.js';
import { DUMP_BLOCK_SIZE } from './source.js';

/** The first bytes read of a core: enough for the header, the message buffer and the page bitmap of a large machine. */
const HEAD_BYTES = 16 * 2 ** 20;
const INFO_NAME = /^info\.(.+)\.(\d+)$/;
const CORE_NAME = /^(vmcore|vmcore_encrypted)\.(.+)\.(\d+)(\.gz|\.zst)?$/;

/** The report for a dump directory, an info file, a core, or a raw kernel dump header. */
export async function inspectPath(target: string): Promise<string> {
  const stat = statOrThrow(target);
  if (stat.isDirectory()) return inspectDirectory(target);
  const name = path.basename(target);
  const info = INFO_NAME.exec(name);
  if (info !== null) return inspectDump(path.dirname(target), info[1]!, info[2]!);
  const core = CORE_NAME.exec(name);
  // The core named, not a sibling: after a decompress or decrypt, vmcore.H.N and vmcore.H.N.zst are both there.
  if (core !== null) return inspectDump(path.dirname(target), core[2]!, core[3]!, name);
  return inspectLooseFile(target);
}

function statOrThrow(target: string): Stats {
  try {
    return statSync(target);
  } catch (error) {
    throw new NetdumpError('ENOENT', `cannot inspect ${target}: ${(error as Error).message}`);
  }
}

async function inspectDirectory(dir: string): Promise<string> {
  const dumps = readdirSync(dir)
    .map((name) => INFO_NAME.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .sort((a, b) => a[1]!.localeCompare(b[1]!) || Number(a[2]) - Number(b[2]));
  if (dumps.length === 0) return `${dir}: no dumps (no info.<host>.<N> files)\n`;
  const reports: string[] = [];
  for (const match of dumps) reports.push(await inspectDump(dir, match[1]!, match[2]!));
  return reports.join('\n');
}

/** One dump of a netdumpd directory: its info file, key and core (`coreName`, or the first of its names found). */
async function inspectDump(dir: string, host: string, index: string, coreName?: string): Promise<string> {
  const lines = [`dump ${index} from ${host} in ${dir}`];
  const infoFile = path.join(dir, `info.${host}.${index}`);
  const info = readIfExists(infoFile);
  if (info === undefined) lines.push(`  info: none (info.${host}.${index} is missing)`);
  else
    lines.push(
      `  info.${host}.${index}: ${endOf(info)}`,
      ...info
        .trimEnd()
        .split('\n')
        .map((line) => `    ${line.trim()}`),
    );
  const key = path.join(dir, `key.${host}.${index}`);
  const core = coreName ?? coreOf(dir, host, index);
  if (core === undefined) {
    lines.push('  core: none found');
  } else {
    lines.push(...(await describeCore(path.join(dir, core))));
    if (info !== undefined) lines.push(...compareWithDumpLength(info, core, statSync(path.join(dir, core)).size));
    if (core.startsWith('vmcore_encrypted')) {
      const keyNote = !isFile(key) ? `its key, key.${host}.${index}, is missing` : `key: key.${host}.${index}`;
      lines.push(`  encrypted (EKCD); ${keyNote}; to read it: netdump decrypt --key PRIVATE.pem key.${host}.${index} ${core}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Whether `file` is a regular file: a stat, not a read (cores are gigabytes). */
function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** How the dump ended, from netdumpd's last info line. */
function endOf(info: string): string {
  if (/^Dump complete$/m.test(info)) return 'complete (the client sent FINISHED)';
  const incomplete = /^(Dump incomplete.*|Dump unsuccessful.*|Bad KDH.*)$/m.exec(info);
  return incomplete !== null ? `ended early: ${incomplete[1]}` : 'no end recorded (the server may still be receiving)';
}

const DUMP_LENGTH_LINE = /^\s*Dump Length: (-?\d+)B/m;
const COMPRESSION_LINE = /^\s*Compression: (\S+)/m;
const BLOCKSIZE_LINE = /^\s*Blocksize: (\d+)/m;
const SUFFIX_OF_COMPRESSION: Readonly<Record<string, string>> = { none: '', gzip: '.gz', zstd: '.zst' };

/**
 * The core as the server left it holds the header's dump length: a
 * compressed one is cut to it (spec §6.6); a plain or encrypted body ends
 * with the last block written, so a length that is not a whole number of
 * blocks (a file dumped) is rounded up. A copy made from it (decompressed)
 * has another length.
 */
function compareWithDumpLength(info: string, core: string, size: number): string[] {
  const announced = DUMP_LENGTH_LINE.exec(info);
  if (announced === null) return ['  length: not checked (the info file has no Dump Length: no KDH arrived)'];
  const expected = Number(announced[1]);
  const compression = COMPRESSION_LINE.exec(info)?.[1] ?? 'none';
  const suffix = SUFFIX_OF_COMPRESSION[compression];
  const coreSuffix = CORE_NAME.exec(core)?.[4] ?? '';
  if (suffix !== coreSuffix) {
    return [`  length: not checked (${core} is not the ${compression} core the header describes: a copy made from it?)`];
  }
  const blockSize = Number(BLOCKSIZE_LINE.exec(info)?.[1] ?? 0);
  const whole = compression === 'none' && blockSize > 0 ? Math.ceil(expected / blockSize) * blockSize : expected;
  const announcedLength =
    whole === expected ? `the header's dump length (${whole})` : `the header's dump length (${expected}) in whole blocks`;
  if (size === whole) return [`  length: ${size} bytes, ${announcedLength}: whole`];
  if (size < whole) return [`  length: INCOMPLETE: ${size} bytes of ${announcedLength}`];
  return [`  length: ${size} bytes, ${size - whole} more than ${announcedLength}`];
}

function coreOf(dir: string, host: string, index: string): string | undefined {
  for (const base of ['vmcore', 'vmcore_encrypted']) {
    for (const suffix of ['', '.gz', '.zst']) {
      const name = `${base}.${host}.${index}${suffix}`;
      if (isFile(path.join(dir, name))) return name;
    }
  }
  return undefined;
}

/** A file that is not named as netdumpd names its files: a core, or a device dump that starts with a KDH. */
async function inspectLooseFile(file: string): Promise<string> {
  const head = readFileHead(file, KERNELDUMPHEADER_SIZE);
  if (
    head.length >= KERNELDUMPHEADER_SIZE &&
    Buffer.from(head.subarray(0, KERNELDUMPMAGIC.length)).toString('latin1') === KERNELDUMPMAGIC
  ) {
    return `${file}\n${describeKdh(head).join('\n')}\n`;
  }
  return `${file}\n${(await describeCore(file)).join('\n')}\n`;
}

function describeKdh(kdh: Uint8Array): string[] {
  const header = parseKerneldumpHeader(kdh);
  return [
    `  kernel dump header (KDH): ${header.magic}, version ${header.version}, ${header.architecture} (architecture version ${header.architectureVersion})`,
    `    dump length ${header.dumpLength} bytes, extent ${header.dumpExtent}, block size ${header.blockSize}, compression ${header.compression}, key ${header.dumpKeySize} bytes`,
    `    host ${header.hostname}, time ${new Date(header.dumpTime * 1000).toISOString()}, panic "${header.panicString}"`,
    `    version ${header.versionString.trimEnd()}`,
    `    parity ${header.parityOk ? 'ok' : 'BAD'}`,
  ];
}

/** The core's form and size, and for a minidump its header and whether its length is whole. */
async function describeCore(file: string): Promise<string[]> {
  try {
    return await readCore(file);
  } catch (error) {
    // A cut-off or foreign core is what inspect is for: say what stopped the reading, and go on to the next dump.
    const reason = error instanceof Error ? error.message : String(error);
    return [`  core ${path.basename(file)}: ${statSync(file).size} bytes; cannot be read through: ${reason}`];
  }
}

async function readCore(file: string): Promise<string[]> {
  const size = statSync(file).size;
  const name = path.basename(file);
  const format: CompressionFormat = compressionFormat(readFileHead(file, 4));
  if (name.startsWith('vmcore_encrypted'))
    return [`  core ${name}: ${size} bytes, encrypted${format === 'none' ? '' : ` (${format} inside)`}`];
  if (format === 'none')
    return [`  core ${name}: ${size} bytes, not compressed`, ...describeMinidump(readFileHead(file, HEAD_BYTES), size)];
  const { head, size: uncompressed } = await peekDecompressed(file, format, HEAD_BYTES);
  return [`  core ${name}: ${size} bytes, ${format}, ${uncompressed} bytes uncompressed`, ...describeMinidump(head, uncompressed)];
}

function describeMinidump(head: Buffer, length: number): string[] {
  if (!head.subarray(0, MINIDUMP_MAGIC.length).equals(Buffer.from(MINIDUMP_MAGIC))) {
    return ['  not a minidump (no "minidump FreeBSD/amd64" magic): a full dump or a file; its length cannot be checked'];
  }
  const header = parseMinidumpHeader(head);
  const sections = minidumpSectionOffsets(header);
  const lines = [
    `  minidump version ${header.version}: kernbase 0x${header.kernbase.toString(16)}, dmap 0x${header.dmapBase.toString(16)}-0x${header.dmapEnd.toString(16)}`,
    `    msgbuf ${header.msgbufSize} bytes, dump_avail ${header.dumpAvailSize}, bitmap ${header.bitmapSize}, page tables ${header.pmapSize}`,
  ];
  if (sections.bitmap + header.bitmapSize > head.length) return [...lines, '    page bitmap past the first 16 MiB: length not checked'];
  const pages = countSetPages(head.subarray(sections.bitmap, sections.bitmap + header.bitmapSize));
  const expected = sections.data + pages * DUMP_BLOCK_SIZE;
  const verdict =
    length === expected
      ? 'complete'
      : length < expected
        ? `INCOMPLETE: ${expected - length} bytes short`
        : `${length - expected} bytes past the end (block padding)`;
  return [...lines, `    ${pages} pages dumped: ${expected} bytes expected, ${length} present: ${verdict}`];
}
