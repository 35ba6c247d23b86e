/**
 * A regular file (an existing vmcore, or any bytes) as a DumpSource. The
 * file is read in maxiosize chunks into one reused buffer, never loaded
 * whole.
 */
import { closeSync, constants as fsConstants, openSync, readSync, statSync, type Stats } from 'node:fs';
import { describeFileKind } from '../../errors/file-kind.js';
import { errorCodeOf, NetdumpError } from '../../errors/index.js';
import { MAX_DUMP_WRITE, roundUpToBlock, type DumpSource, type DumpWrite } from './source.js';

/** Turns a Node fs error into a NetdumpError whose message names the file. */
function fileError(error: unknown, path: string): NetdumpError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const errno = (error as NodeJS.ErrnoException | undefined)?.errno;
  switch (code) {
    case 'ENOENT':
      return new NetdumpError('ENOENT', `dump file ${path} does not exist`, errno);
    case 'EACCES':
    case 'EPERM':
      return new NetdumpError('EACCES', `dump file ${path} is not readable: permission denied`, errno);
    case 'ENOTDIR':
      return new NetdumpError('ENOENT', `dump file ${path} does not exist (a path component is not a directory)`, errno);
    case 'EISDIR':
      return new NetdumpError('EINVAL', `dump file ${path} is a directory, not a regular file`, errno);
    default: {
      const detail = error instanceof Error ? error.message : String(error);
      return new NetdumpError(errorCodeOf(code), `cannot read dump file ${path}: ${detail}`, errno);
    }
  }
}

function openForReading(path: string): number {
  try {
    return openSync(path, fsConstants.O_RDONLY);
  } catch (error) {
    throw fileError(error, path);
  }
}

/** Reads exactly `length` bytes at `position` unless the file ends first; returns bytes read. */
function readFully(fd: number, buffer: Uint8Array, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const got = readSync(fd, buffer, done, length - done, position + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}

/** A file's first `bytes` (fewer if it is shorter), without reading the rest: a core may be gigabytes. */
export function readFileHead(file: string, bytes: number): Buffer {
  const fd = openSync(file, fsConstants.O_RDONLY);
  try {
    const head = Buffer.alloc(bytes);
    return head.subarray(0, readFully(fd, head, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

export class FileDumpSource implements DumpSource {
  readonly length: number;

  /** Checks the file now so that a bad path fails before any packet is sent. */
  constructor(readonly path: string) {
    let stats: Stats;
    try {
      stats = statSync(path);
    } catch (error) {
      throw fileError(error, path);
    }
    if (!stats.isFile()) {
      throw new NetdumpError('EINVAL', `dump file ${path} is ${describeFileKind(stats)}, not a regular file`);
    }
    if (stats.size === 0) {
      throw new NetdumpError('EINVAL', `dump file ${path} is empty: there is nothing to dump`);
    }
    closeSync(openForReading(path));
    this.length = stats.size;
  }

  *writes(): Generator<DumpWrite> {
    const buffer = new Uint8Array(MAX_DUMP_WRITE);
    const fd = openForReading(this.path);
    try {
      for (let offset = 0; offset < this.length; offset += MAX_DUMP_WRITE) {
        const wanted = Math.min(MAX_DUMP_WRITE, this.length - offset);
        const got = this.read(fd, buffer, wanted, offset);
        if (got < wanted) {
          throw new NetdumpError(
            'EIO',
            `dump file ${this.path} shrank while being dumped: ended at ${offset + got} of ${this.length} bytes`,
          );
        }
        const padded = roundUpToBlock(wanted);
        buffer.fill(0, wanted, padded);
        yield { offset, data: buffer.subarray(0, padded) };
      }
    } finally {
      closeSync(fd);
    }
  }

  private read(fd: number, buffer: Uint8Array, length: number, position: number): number {
    try {
      return readFully(fd, buffer, length, position);
    } catch (error) {
      throw fileError(error, this.path);
    }
  }
}

export function openFileDumpSource(path: string): FileDumpSource {
  return new FileDumpSource(path);
}
