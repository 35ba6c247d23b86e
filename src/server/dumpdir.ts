/**
 * The dump directory: every file the server writes lives below it. netdumpd
 * gets that guarantee from Capsicum: every file is opened relative to the
 * dump directory's descriptor, with no absolute path, no ".." and no
 * symlink out. Here the dump directory is held open from start-up; a
 * client's directory is opened below it once, at the herald, with
 * openat2(RESOLVE_BENEATH), and held for the whole dump; every file of the
 * dump is named relative to that descriptor, with O_NOFOLLOW, so neither a
 * planted symlink nor the directory swapped for one mid-dump is written
 * through.
 */
import { closeSync, constants, fstatSync, readSync, realpathSync, writeSync, type Stats } from 'node:fs';

import { describeFileKind } from '../../errors/file-kind.js';
import { errorCodeOf, NetdumpError } from '../../errors/index.js';
import { HeldDirectory, type FileName } from '../../native/index.js';
import { printable, type Logger } from './log.js';
import { strerror } from '../../errors/strerror.js';

export const MAX_DUMPS = 1024;

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;
const SLASH = 0x2f;

export class DumpDirectory {
  /** The dump directory with every symlink resolved: the handler's working directory. */
  readonly root: string;
  private readonly held: HeldDirectory;

  constructor(dir: string) {
    this.root = realpathSync(dir);
    this.held = HeldDirectory.open(this.root);
  }

  /**
   * A client's directory, named by a path relative to the dump directory
   * (the herald's bytes, or -p), held open; or why it is refused.
   */
  openClientDirectory(relative: Buffer): { dir: HeldDirectory } | { refused: string } {
    if (relative.length === 0 || relative[0] === SLASH) return { refused: 'not a relative path' };
    if (relative.toString('latin1').split('/').includes('..')) return { refused: 'contains ".."' };
    try {
      return { dir: this.held.openBeneath(relative) };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'EXDEV') return { refused: 'leads out of the dump directory' };
      if (code === 'ENOTDIR') return { refused: 'not a directory' };
      return { refused: strerror(error) };
    }
  }

  /**
   * Opens the dump directory beneath itself, as every herald's path will be
   * opened: without openat2(2) every path would be refused, so the server
   * says so at start-up instead.
   */
  checkOpenat2(): void {
    try {
      this.held.openBeneath('.').close();
    } catch (error) {
      throw new NetdumpError(errorCodeOf((error as { code?: string }).code), openat2ProbeFailure(this.root, error));
    }
  }

  /** Stops holding the dump directory (the server's stop). */
  close(): void {
    this.held.close();
  }
}

/** Why the server cannot start when its probe of openat2(2) failed with `error`, in one line. */
export function openat2ProbeFailure(dumpDir: string, error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ENOSYS' || code === 'EPERM') {
    return (
      `openat2(2) is unavailable (${strerror(error)}): netdumpd needs Linux 5.6 or later, ` +
      "with openat2 allowed by any seccomp filter (a container runtime's, systemd's SystemCallFilter=)"
    );
  }
  return `cannot open the dump directory ${dumpDir} beneath itself with openat2(2): ${strerror(error)}`;
}

const notRegular = (kind: string) => new NetdumpError('EINVAL', `refused: not a regular file (${kind})`);

/**
 * openat(2) of a file the server reads or writes, refusing anything but a
 * regular file: a FIFO planted under a dump file's name would otherwise
 * block the server's only thread in open(2) or read(2). O_NONBLOCK makes
 * the open return at once (a FIFO opened for writing with no reader fails
 * with ENXIO, as a socket does); fstat(2) then refuses what did open.
 */
function openRegularFile(dir: HeldDirectory, name: FileName, flags: number, mode: number): number {
  let fd: number;
  try {
    fd = dir.openFile(name, flags | O_NONBLOCK, mode);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENXIO') throw notRegular('a FIFO, socket or device');
    throw error;
  }
  let stats: Stats;
  try {
    stats = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (stats.isFile()) return fd;
  closeSync(fd);
  throw notRegular(describeFileKind(stats));
}

export function openForAppend(dir: HeldDirectory, name: FileName): number {
  return openRegularFile(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW, 0o600);
}

export function openTruncated(dir: HeldDirectory, name: FileName, mode = 0o600): number {
  return openRegularFile(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
}

export function openForWriting(dir: HeldDirectory, name: FileName, mode: number): number {
  return openRegularFile(dir, name, O_WRONLY | O_CREAT | O_NOFOLLOW, mode);
}

/** The number in `bounds.<host>` (created empty if missing), or undefined. */
export function readBounds(dir: HeldDirectory, name: string, describeClient: string, log: Logger): number | undefined {
  let fd: number;
  try {
    fd = openRegularFile(dir, name, O_RDONLY | O_CREAT | O_NOFOLLOW, 0o600);
  } catch (error) {
    log.error(`openat(${printable(name)}): ${strerror(error)}\n`);
    return undefined;
  }
  const buffer = Buffer.alloc(15);
  let length: number;
  try {
    length = readSync(fd, buffer, 0, buffer.length, 0);
  } catch (error) {
    log.error(`read(${printable(name)}): ${strerror(error)}\n`);
    return undefined;
  } finally {
    closeSync(fd);
  }
  if (length === 0) {
    log.info(`Empty bounds file for client ${describeClient}\n`);
    return undefined;
  }
  const text = buffer.toString('latin1', 0, length).split('\n')[0]!;
  const match = /^\s*\+?(\d+)/.exec(text);
  const bound = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(bound) || bound > 0x7fffffff) {
    log.error(`Invalid bound for client ${describeClient}: '${printable(Buffer.from(text, 'latin1'))}'\n`);
    return undefined;
  }
  return bound;
}

export function writeBounds(dir: HeldDirectory, name: string, next: number, log: Logger): void {
  try {
    const fd = openTruncated(dir, name);
    try {
      writeSync(fd, `${next}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    log.error(`openat(${printable(name)}): ${strerror(error)}\n`);
  }
}
