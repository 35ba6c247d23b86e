/**
 * A JSON-lines writer for the hot path: fields are written as ASCII bytes
 * straight into a buffer allocated once, with no string built per line,
 * and the buffer goes to the file when it fills and on close.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

import { NetdumpError } from '../../src/errors.js';

const BUFFER_SIZE = 1 << 20;
/** Room one line may need at most. */
const LINE_MAX = 256;

export class JsonLinesFile {
  private readonly fd: number;
  private readonly buffer = Buffer.alloc(BUFFER_SIZE);
  private used = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w', 0o644);
    } catch (error) {
      throw new NetdumpError((error as NodeJS.ErrnoException).code ?? 'EIO', `cannot write ${path}: ${(error as Error).message}`);
    }
  }

  /** Starts a line: `{"t":<micros>` — add fields, then end(). */
  begin(micros: number): this {
    if (this.used + LINE_MAX > BUFFER_SIZE) this.flush();
    this.ascii('{"t":');
    this.integer(micros);
    return this;
  }

  /** `,"name":` followed by a non-negative integer. */
  number(name: string, value: number): this {
    this.ascii(',"');
    this.ascii(name);
    this.ascii('":');
    this.integer(value);
    return this;
  }

  /** `,"name":"value"` for a value that needs no escaping. */
  text(name: string, value: string): this {
    this.ascii(',"');
    this.ascii(name);
    this.ascii('":"');
    this.ascii(value);
    this.ascii('"');
    return this;
  }

  end(): void {
    this.ascii('}\n');
  }

  flush(): void {
    for (let written = 0; written < this.used; ) written += writeSync(this.fd, this.buffer, written, this.used - written);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.buffer[this.used++] = text.charCodeAt(i);
  }

  private integer(value: number): void {
    let n = Math.floor(value);
    if (n === 0) {
      this.buffer[this.used++] = 0x30;
      return;
    }
    const start = this.used;
    while (n > 0) {
      this.buffer[this.used++] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.buffer.subarray(start, this.used).reverse();
  }
}
