/**
 * Output to an open file through a buffer allocated once: a subclass fills
 * `buffer` from `used` on and advances `used`, and the bytes go to the file
 * when it calls flush().
 */
import { writeSync } from 'node:fs';

export class BufferedFile {
  protected readonly buffer: Buffer;
  protected used = 0;

  constructor(private readonly fd: number, bufferSize: number) {
    this.buffer = Buffer.alloc(bufferSize);
  }

  flush(): void {
    for (let written = 0; written < this.used; ) written += writeSync(this.fd, this.buffer, written, this.used - written);
    this.used = 0;
  }
}
