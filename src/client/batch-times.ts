/**
 * How long each batch of the dump data took, from the send call to its
 * last ack: the distribution a person studying the polling path compares
 * with the kernel's (a mean hides a tail). Times are kept in a typed array
 * sized for the dump's batches up front: growing it in the middle of a dump
 * threw away the optimized code of the send loop that records them (a deopt
 * and a recompile, 6 ms on the dump's one CPU, at the 1025th batch). It
 * still doubles for a dump that takes more batches than expected.
 */

export interface BatchTimeSummary {
  /** Microseconds. */
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export class BatchTimes {
  private times: Float64Array;
  private count = 0;
  private startedAt = 0;

  /** `expectedBatches`: how many the dump should take; `now`: a monotonic clock in µs. */
  constructor(
    expectedBatches: number,
    private readonly now: () => number,
  ) {
    this.times = new Float64Array(Math.max(1, expectedBatches));
  }

  start(): void {
    this.startedAt = this.now();
  }

  stop(): void {
    if (this.count === this.times.length) {
      const grown = new Float64Array(this.times.length * 2);
      grown.set(this.times);
      this.times = grown;
    }
    this.times[this.count++] = this.now() - this.startedAt;
  }

  summary(): BatchTimeSummary {
    if (this.count === 0) return { mean: 0, p50: 0, p99: 0, max: 0 };
    const sorted = this.times.slice(0, this.count).sort();
    const sum = sorted.reduce((total, time) => total + time, 0);
    const at = (q: number) => sorted[Math.floor((this.count - 1) * q)]!;
    const round = (micros: number) => Math.round(micros * 10) / 10;
    return { mean: round(sum / this.count), p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[this.count - 1]!) };
  }
}
