/**
 * A file written through a buffer allocated once: a subclass fills `buffer`
 * from `used` on and advances `used`, and the bytes go to the file when it
 * calls flush() (when the buffer is full) and on close().
 */
import { closeSync, openSync, writeSync } from 'node:fs';

import { NetdumpError } from '../../src/errors.js';

export class BufferedFile {
  protected readonly buffer: Buffer;
  protected used = 0;
  private readonly fd: number;

  /** `what` names the file in the error when it cannot be created. */
  constructor(readonly path: string, bufferSize: number, what = path) {
    try {
      this.fd = openSync(path, 'w', 0o644);
    } catch (error) {
      throw new NetdumpError((error as NodeJS.ErrnoException).code ?? 'EIO', `cannot write ${what}: ${(error as Error).message}`);
    }
    this.buffer = Buffer.alloc(bufferSize);
  }

  flush(): void {
    for (let written = 0; written < this.used; ) written += writeSync(this.fd, this.buffer, written, this.used - written);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
