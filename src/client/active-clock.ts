/**
 * The time a sender was there: a clock less every gap between two of its
 * readings longer than `maxGap`. A gap that long is the sender away (the
 * dumper writing, the host or a GC taking the CPU), and when the host stops
 * the whole machine the server stops too: time it had no chance to ack in
 * must not make packets look lost, nor count towards giving up.
 */
export class ActiveClock {
  /** The underlying clock at the last reading, µs. */
  lastReading: number;
  private away = 0;

  constructor(
    private readonly clock: () => number,
    private readonly maxGap: number,
  ) {
    this.lastReading = clock();
  }

  /** Now, in µs of the time the sender was there. */
  now(): number {
    const reading = this.clock();
    if (reading - this.lastReading > this.maxGap) this.away += reading - this.lastReading;
    this.lastReading = reading;
    return reading - this.away;
  }
}
