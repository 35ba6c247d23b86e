/**
 * How many packets the fast profile keeps in flight, by measurement.
 *
 * The limit that matters is the server's socket buffer: netdumpd sets
 * SO_RCVBUF to 128 KiB, "approximately twice the chunk size" (spec §6.10),
 * and a window past it loses its excess every round trip (the collapse a
 * fixed window suffers). So the window is held where the server's queue,
 * estimated from the round trip as TCP Vegas does (window × (1 − base RTT /
 * this round's RTT)), stays under one kernel batch:
 * - it starts at one batch and doubles per round trip while the queue stays
 *   under half a batch; after that it grows by one packet per round trip
 *   while the queue is under half a batch, holds while it is under one
 *   batch, and loses a packet per round trip while it is over;
 * - each lost packet takes one packet off (random loss at rate p settles it
 *   near 1/p packets; a buffer overflow loses its excess, which is undone);
 * - a retransmit timeout halves it.
 */

/**
 * The window's ceiling: netdumpd's 128 KiB SO_RCVBUF, as Linux charges it,
 * holds 80 packets of 1448 bytes, and 96 overflow it (measured against the
 * real netdumpd, issue 16). Linux charges a packet's buffer, not its
 * payload: at a smaller MTU no more packets fit, so the ceiling is 80
 * packets. A 4096-byte payload takes a buffer about three times as large
 * (8 KiB against 2-3 KiB), so about 30 fit: the ceiling is also 1.75
 * batches (28 packets of 4096 bytes).
 */
export const MAX_WINDOW_PACKETS = 80;
export const MAX_WINDOW_BATCHES = 1.75;
/** The window's floor, in packets. */
export const MIN_WINDOW = 4;

export class WindowControl {
  /** Packets allowed in flight; fractional while it grows by 1/size per ack. */
  size: number;
  private slowStart = true;
  private mayGrow = true;
  private baseRtt = Infinity;
  private roundRtt = Infinity;
  /** The round ends when this sequence number is acked. */
  private roundEnd = 0;

  private readonly maxSize: number;

  /** `batchPackets`: the packets of one kernel batch, the first window and the queue's bound. */
  constructor(private readonly batchPackets: number) {
    this.size = batchPackets;
    this.maxSize = Math.min(MAX_WINDOW_PACKETS, Math.floor(batchPackets * MAX_WINDOW_BATCHES));
  }

  /** The ack of `seq`; `next` is the next sequence number to send; `rtt` is a sample (µs) or undefined (Karn: a resent packet's). */
  acked(seq: number, next: number, rtt: number | undefined): void {
    if (rtt !== undefined && rtt < this.roundRtt) this.roundRtt = rtt;
    // Slow start ends at the first sample that shows half a batch queued, not a round later, when the window has doubled.
    if (this.slowStart && rtt !== undefined && this.size * (1 - this.baseRtt / rtt) > this.batchPackets / 2) this.slowStart = false;
    if (seq >= this.roundEnd) this.endRound(next);
    if (this.mayGrow) this.size = Math.min(this.maxSize, this.size + (this.slowStart ? 1 : 1 / this.size));
  }

  lost(): void {
    this.size = Math.max(MIN_WINDOW, this.size - 1);
    this.slowStart = false;
  }

  timedOut(): void {
    this.size = Math.max(MIN_WINDOW, this.size / 2);
    this.slowStart = false;
  }

  /** The server's queue in packets, as this round measured it. */
  get queued(): number {
    return this.roundRtt === Infinity ? 0 : this.size * (1 - this.baseRtt / this.roundRtt);
  }

  private endRound(next: number): void {
    this.roundEnd = next;
    if (this.roundRtt === Infinity) return; // no sample this round: nothing learnt
    this.baseRtt = Math.min(this.baseRtt, this.roundRtt);
    const queued = this.queued;
    this.mayGrow = queued < this.batchPackets / 2;
    if (!this.mayGrow) this.slowStart = false;
    if (queued > this.batchPackets) this.size = Math.max(MIN_WINDOW, this.size - 1);
    this.roundRtt = Infinity;
  }
}
