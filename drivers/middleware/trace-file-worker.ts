/**
 * The worker of a TraceFile: once a millisecond, or when woken, turns the
 * records the dump's thread has stored into JSON lines and writes them,
 * until the TraceFile is closed. A write error is kept for close() to report
 * and later records are dropped, so the dump is never held up by its trace.
 */
import { workerData } from 'node:worker_threads';

import { JsonLinesFile } from './json-lines.js';
import { Control, MESSAGE_BYTES, reasonOf, type TraceWorkerData } from './trace-file.js';
import { TraceRecords } from './trace-records.js';

const POLL_MS = 1;

const data = workerData as TraceWorkerData;
const control = new Int32Array(data.control);
const ring = new Uint8Array(data.ring);
const records = new TraceRecords(ring);
const ringRecords = records.capacity;
const lines = new JsonLinesFile(data.fd);
let failed = false;

function keepFirstError(error: unknown): void {
  if (failed) return;
  failed = true;
  const text = Buffer.from(`${(error as NodeJS.ErrnoException).code ?? 'EIO'}\n${reasonOf(error)}`).subarray(0, MESSAGE_BYTES);
  new Uint8Array(data.message).set(text);
  Atomics.store(control, Control.messageLength, text.length);
  Atomics.store(control, Control.failed, 1);
}

/** Writes records [tail, head), counted modulo 2^32, as lines. */
function drain(tail: number, head: number): void {
  for (let index = tail; index !== head; index = (index + 1) | 0) records.format(index & (ringRecords - 1), lines);
  lines.flush();
}

function run(): void {
  let tail = Atomics.load(control, Control.tail);
  for (;;) {
    const wake = Atomics.load(control, Control.wake);
    const closing = Atomics.load(control, Control.closing) !== 0;
    const head = Atomics.load(control, Control.head);
    if (head !== tail) {
      if (!failed) {
        try {
          drain(tail, head);
        } catch (error) {
          keepFirstError(error);
        }
      }
      tail = head;
      Atomics.store(control, Control.tail, tail);
      Atomics.notify(control, Control.tail);
    } else if (closing) {
      return; // closing was stored after the last head
    } else {
      Atomics.wait(control, Control.wake, wake, POLL_MS);
    }
  }
}

try {
  run();
} catch (error) {
  keepFirstError(error);
} finally {
  Atomics.store(control, Control.done, 1);
  Atomics.notify(control, Control.done);
}
