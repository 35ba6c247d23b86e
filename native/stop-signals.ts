/**
 * SIGINT, SIGTERM and SIGHUP while a dump runs (native/stop_signals.c):
 * the dump loop is synchronous, so Node's handlers would only run after
 * it. Watched, a signal only sets a word that `caught` reads without a
 * call into C, and the dump stops at its next poll. While watching, do
 * not add process.on() listeners for these signals: libuv would take
 * the signal over, and release() would then remove libuv's handler.
 */
import { constants } from 'node:os';

import { addon, call } from './addon.js';

export class StopSignals {
  private constructor(private readonly word: Int32Array) {}

  /** Starts catching the stop signals; the previous handlers come back with release(). */
  static watch(): StopSignals {
    const buffer = call(() => addon.watchStopSignals());
    return new StopSignals(new Int32Array(buffer.buffer, buffer.byteOffset, 1));
  }

  /** The first stop signal caught since watch(), 0 if none; still readable after release(). */
  get caught(): number {
    return Atomics.load(this.word, 0);
  }

  release(): void {
    addon.unwatchStopSignals();
  }
}

/** "SIGINT" for 2. */
export function signalName(signal: number): string {
  return Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? `signal ${signal}`;
}
