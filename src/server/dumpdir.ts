/**
 * The dump directory: every file the server writes lives below it. netdumpd
 * gets that guarantee from Capsicum (openat relative to the directory, no
 * absolute paths, no "..", no symlink out); here it is checked by hand:
 * a client directory must be relative, free of "..", and still inside the
 * dump directory once every symlink is resolved; files are opened with
 * O_NOFOLLOW, so a planted symlink is never written through.
 */
import { closeSync, constants, openSync, readSync, realpathSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

import type { Logger } from './log.js';
import { strerror } from './strerror.js';

export const MAX_DUMPS = 1024;

// Node opens every file with O_CLOEXEC already.
const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW } = constants;

export class DumpDirectory {
  /** The dump directory with every symlink resolved. */
  readonly root: string;

  constructor(dir: string) {
    this.root = realpathSync(dir);
  }

  /**
   * The absolute directory for a client path relative to the dump
   * directory, or a reason it is refused.
   */
  resolveClientDirectory(relative: string): { dir: string } | { refused: string } {
    if (relative === '' || path.isAbsolute(relative)) return { refused: 'not a relative path' };
    if (relative.split('/').includes('..')) return { refused: 'contains ".."' };
    let resolved: string;
    try {
      resolved = realpathSync(path.join(this.root, relative));
    } catch (error) {
      return { refused: strerror(error) };
    }
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) return { refused: 'leads out of the dump directory' };
    if (!statSync(resolved).isDirectory()) return { refused: 'not a directory' };
    return { dir: resolved };
  }

  /** Absolute path of `relative` (as netdumpd names it, e.g. "./vmcore.host.0"). */
  absolute(relative: string): string {
    return path.join(this.root, relative);
  }
}

export function openForAppend(file: string): number {
  return openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW, 0o600);
}

export function openTruncated(file: string, mode = 0o600): number {
  return openSync(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
}

export function openForWriting(file: string, mode: number): number {
  return openSync(file, O_WRONLY | O_CREAT | O_NOFOLLOW, mode);
}

/** The number in `bounds.<host>` (created empty if missing), or undefined. */
export function readBounds(file: string, describeClient: string, log: Logger): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_CREAT | O_NOFOLLOW, 0o600);
  } catch (error) {
    log.error(`openat(${file}): ${strerror(error)}\n`);
    return undefined;
  }
  const buffer = Buffer.alloc(15);
  let length: number;
  try {
    length = readSync(fd, buffer, 0, buffer.length, 0);
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
    log.error(`Invalid bound for client ${describeClient}: '${text}'\n`);
    return undefined;
  }
  return bound;
}

export function writeBounds(file: string, next: number, log: Logger): void {
  try {
    const fd = openTruncated(file);
    try {
      writeSync(fd, `${next}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    log.error(`openat(${file}): ${strerror(error)}\n`);
  }
}
