/**
 * A JSON-lines writer: fields are written as ASCII bytes straight into a
 * buffer allocated once, with no string built per line, and the buffer goes
 * to the file when it fills and on flush().
 */
import { writeSync } from 'node:fs';

const BUFFER_SIZE = 1 << 20;
/** Room one line may need at most. */
const LINE_MAX = 256;
const LINE_START = Buffer.from('{"t":');
const LINE_END = Buffer.from('}\n');

/** `before + key + after` as ASCII bytes, encoded the first time and then taken from `cache`. */
function encodedOnce(cache: Map<string, Uint8Array>, key: string, before: string, after: string): Uint8Array {
  let bytes = cache.get(key);
  if (bytes === undefined) {
    bytes = Buffer.from(before + key + after, 'latin1');
    cache.set(key, bytes);
  }
  return bytes;
}

export class JsonLinesFile {
  private readonly buffer = Buffer.alloc(BUFFER_SIZE);
  private used = 0;
  /** Encoded `,"name":` / `,"name":"` and `value"`: the same few recur on every line. */
  private readonly numberFields = new Map<string, Uint8Array>();
  private readonly textFields = new Map<string, Uint8Array>();
  private readonly textValues = new Map<string, Uint8Array>();

  constructor(private readonly fd: number) {}

  /** Starts a line: `{"t":<micros>` — add fields, then end(). */
  begin(micros: number): this {
    if (this.used + LINE_MAX > BUFFER_SIZE) this.flush();
    this.copy(LINE_START);
    this.integer(micros);
    return this;
  }

  /** `,"name":` followed by a non-negative integer. */
  number(name: string, value: number): this {
    this.copy(encodedOnce(this.numberFields, name, ',"', '":'));
    this.integer(value);
    return this;
  }

  /** `,"name":"value"` for a name and value that need no escaping. */
  text(name: string, value: string): this {
    this.copy(encodedOnce(this.textFields, name, ',"', '":"'));
    this.copy(encodedOnce(this.textValues, value, '', '"'));
    return this;
  }

  end(): void {
    this.copy(LINE_END);
  }

  flush(): void {
    for (let written = 0; written < this.used;) written += writeSync(this.fd, this.buffer, written, this.used - written);
    this.used = 0;
  }

  private copy(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.buffer[this.used + i] = bytes[i]!;
    this.used += bytes.length;
  }

  /** A non-negative integer in decimal, written from its last digit back. */
  private integer(value: number): void {
    let n = Math.floor(value);
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.used += digits;
    for (let at = this.used - 1; at >= this.used - digits; at--) {
      this.buffer[at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
  }
}
