/**
 * The tracer's file, written by a worker thread: the dump's thread stores
 * one 40-byte record per event in a ring in shared memory, and the worker
 * (trace-file-worker.ts) turns records into JSON lines and writes them,
 * on another CPU when there is one. Formatting and writing a line on the
 * dump's thread cost 0.5 µs, a fifth of a transmit.
 *
 * Control words (Int32, shared): head and tail count records modulo 2^32,
 * the ring holding a power of two of them, each word on its own cache
 * line so that the threads do not contend; wake rouses the worker before
 * its next millisecond poll; closing and done hand over the end; the first
 * write error waits there for close() to report it.
 */
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

import { errorCodeOf, NetdumpError } from '../../errors/index.js';
import { TRACE_RECORD_BYTES, TraceRecords } from './trace-records.js';

export const Control = { head: 0, tail: 16, wake: 32, closing: 48, done: 49, failed: 50, messageLength: 51 } as const;
const CONTROL_WORDS = 64;
export const MESSAGE_BYTES = 512;

export interface TraceWorkerData {
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  message: SharedArrayBuffer;
  fd: number;
}

/** 32768 records: about 0.1 s of events at the fastest transmit rate. */
const RING_RECORDS = 1 << 15;
/**
 * Records between publications of the head. The atomic store is a full
 * barrier, which right after a send system call waits for the store buffer
 * to drain; the worker polls only once a millisecond anyway.
 */
const PUBLISH_EVERY = 32;
/** How long to wait for a worker that makes no progress before giving up. */
const STALL_MS = 10_000;

/** "No such file or directory" from Node's "ENOENT: no such file or directory, open '…'". */
export function reasonOf(error: unknown): string {
  const text = /^[A-Z0-9]+: ([^,]+)/.exec((error as Error).message)?.[1] ?? (error as Error).message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Monotonic microseconds (performance.now() never goes back). The imported
 * performance, not the global: the global is a lazy getter, looked up anew
 * on every call.
 */
function monotonicMicros(): number {
  return Math.floor(performance.now() * 1000);
}

export class TraceFile {
  private readonly control: Int32Array;
  private readonly message: Uint8Array;
  private readonly records: TraceRecords;
  /** Records stored so far, modulo 2^32 (as int32). */
  private head = 0;
  private unpublished = 0;
  /** The worker's progress as last read: read again only when the ring looks full. */
  private tail = 0;
  private readonly fd: number;
  private readonly worker: Worker;
  private closed = false;
  private workerError: string | undefined;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w', 0o644);
    } catch (error) {
      throw new NetdumpError(errorCodeOf((error as NodeJS.ErrnoException).code), `cannot write the trace ${path}: ${reasonOf(error)}`);
    }
    const data: TraceWorkerData = {
      control: new SharedArrayBuffer(CONTROL_WORDS * 4),
      ring: new SharedArrayBuffer(RING_RECORDS * TRACE_RECORD_BYTES),
      message: new SharedArrayBuffer(MESSAGE_BYTES),
      fd: this.fd,
    };
    this.control = new Int32Array(data.control);
    this.message = new Uint8Array(data.message);
    this.records = new TraceRecords(new Uint8Array(data.ring));
    try {
      this.worker = new Worker(new URL('./trace-file-worker.js', import.meta.url), { workerData: data });
    } catch (error) {
      closeSync(this.fd);
      throw new NetdumpError('EIO', `cannot write the trace ${path}: ${(error as Error).message}`);
    }
    // A worker that fails to load reports it here; close() then says the writer stopped.
    this.worker.on('error', (error) => (this.workerError = error.message));
    this.worker.unref();
  }

  /** Stores one event, stamped now; waits only if the worker has fallen a whole ring behind. */
  record(kind: number, a: number, b = 0, c = 0, d = 0, e = 0, f = 0): void {
    if (this.closed) throw new NetdumpError('EBADF', `the trace ${this.path} is closed`);
    if ((this.head - this.tail) >>> 0 >= RING_RECORDS) this.waitForRoom();
    this.records.write(this.head & (RING_RECORDS - 1), kind, monotonicMicros(), a, b, c, d, e, f);
    this.head = (this.head + 1) | 0;
    if (++this.unpublished >= PUBLISH_EVERY) this.publish();
  }

  /**
   * Waits for the worker to write everything, closes the file, and reports
   * a write error if there was one. The file of a worker that stalls stays
   * open: closing it under a write in progress could let that write land
   * in whatever file reuses the descriptor.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.publish();
    Atomics.store(this.control, Control.closing, 1);
    this.wakeWorker();
    const done = this.waitFor(() => Atomics.load(this.control, Control.done) !== 0, Control.done);
    if (done) closeSync(this.fd);
    else void this.worker.terminate();
    if (Atomics.load(this.control, Control.failed) !== 0) {
      const text = Buffer.from(this.message.subarray(0, Atomics.load(this.control, Control.messageLength))).toString();
      const [code, reason] = text.split('\n');
      throw new NetdumpError(errorCodeOf(code), `cannot write the trace ${this.path}: ${reason ?? ''}`);
    }
    if (!done) throw this.stopped();
  }

  private stopped(): NetdumpError {
    const why = this.workerError === undefined ? '' : ` (${this.workerError})`;
    return new NetdumpError('EIO', `cannot write the trace ${this.path}: its writer thread stopped${why}`);
  }

  private publish(): void {
    this.unpublished = 0;
    Atomics.store(this.control, Control.head, this.head);
  }

  private wakeWorker(): void {
    Atomics.add(this.control, Control.wake, 1);
    Atomics.notify(this.control, Control.wake);
  }

  private waitForRoom(): void {
    this.publish();
    this.wakeWorker();
    const room = () => (this.head - (this.tail = Atomics.load(this.control, Control.tail))) >>> 0 < RING_RECORDS;
    if (!this.waitFor(room, Control.tail)) throw this.stopped();
  }

  /** Waits until `ready()`, sleeping on a control word the worker notifies; false if the worker stalls for STALL_MS. */
  private waitFor(ready: () => boolean, word: number): boolean {
    let progress = Atomics.load(this.control, Control.tail);
    let deadline = performance.now() + STALL_MS;
    while (!ready()) {
      Atomics.wait(this.control, word, Atomics.load(this.control, word), 10);
      const tail = Atomics.load(this.control, Control.tail);
      if (tail !== progress) [progress, deadline] = [tail, performance.now() + STALL_MS];
      if (performance.now() > deadline) return false;
    }
    return true;
  }
}
