/**
 * A directory held open by its descriptor, and the files in it named
 * relative to that descriptor (native/dir_addon.c): the server's stand-in
 * for netdumpd's Capsicum sandbox. Once a client's directory is open, renaming
 * it or swapping it for a symlink cannot move where its files are written.
 */
import { closeSync, constants, openSync } from 'node:fs';

import { addon, call } from './addon.js';

/** A file name as bytes (a herald path is bytes), or text encoded as UTF-8. */
export type FileName = Uint8Array | string;

const bytes = (name: FileName): Uint8Array => (typeof name === 'string' ? Buffer.from(name, 'utf8') : name);

export class HeldDirectory {
  private constructor(readonly fd: number) {}

  /** Opens a directory by its path, following symlinks (the dump directory the server was given). */
  static open(path: string): HeldDirectory {
    return new HeldDirectory(openSync(path, constants.O_RDONLY | constants.O_DIRECTORY));
  }

  /**
   * A directory below this one. The lookup may not leave this directory:
   * an absolute path, a ".." above it or a symlink out fails with EXDEV.
   */
  openBeneath(path: FileName): HeldDirectory {
    return new HeldDirectory(call(() => addon.openBeneath(this.fd, bytes(path))));
  }

  /** openat(2) of a name in this directory (fs.constants flags; O_CLOEXEC is added). */
  openFile(name: FileName, flags: number, mode = 0o600): number {
    return call(() => addon.openAt(this.fd, bytes(name), flags, mode));
  }

  rename(from: FileName, to: FileName): void {
    call(() => addon.renameAt(this.fd, bytes(from), bytes(to)));
  }

  symlink(target: FileName, name: FileName): void {
    call(() => addon.symlinkAt(bytes(target), this.fd, bytes(name)));
  }

  unlink(name: FileName): void {
    call(() => addon.unlinkAt(this.fd, bytes(name)));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** pwrite(2) of all of `data` at a 64-bit file position, exact beyond 2^53. */
export function pwriteAll(fd: number, data: Uint8Array, position: bigint): void {
  call(() => addon.pwriteAll(fd, data, position));
}
