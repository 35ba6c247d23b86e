/**
 * The fast profile's retransmit timeout, from the measured round trip as
 * RFC 6298 has it: smoothed RTT + 4 × its variance, within bounds, doubled
 * by each timeout until the next sample. Samples come only from packets
 * sent once (Karn's rule: a resent packet's ack may be the first one's).
 */

/**
 * Its bounds, µs. Lost packets are mostly found by the acks that overtake
 * them; the timeout is for the last ones. The floor outlasts a server's
 * stalls (our server's pauses passed 2 ms and 5 ms: every spurious timeout
 * halved the window for nothing).
 */
export const MIN_RTO_US = 10_000;
export const MAX_RTO_US = 1_000_000;

export class RetransmitTimer {
  /** µs; 0 before the first sample. */
  smoothedRtt = 0;
  private rttVariance = 0;
  /**
   * How long a packet waits for its ack before it goes again, in whole µs: a
   * fraction turning up here in the middle of a dump (a round trip past the
   * floor) would change the field's type and make V8 recompile the send loop.
   */
  timeout = MIN_RTO_US;
  /** A clock reading, µs (a fraction): a double from the start, for the same reason. */
  private backedOffUntil = Number.NEGATIVE_INFINITY;

  sample(rtt: number): void {
    if (this.smoothedRtt === 0) {
      this.smoothedRtt = rtt;
      this.rttVariance = rtt / 2;
    } else {
      this.rttVariance = 0.75 * this.rttVariance + 0.25 * Math.abs(this.smoothedRtt - rtt);
      this.smoothedRtt = 0.875 * this.smoothedRtt + 0.125 * rtt;
    }
    this.timeout = Math.min(MAX_RTO_US, Math.max(MIN_RTO_US, Math.ceil(this.smoothedRtt + 4 * this.rttVariance)));
  }

  /**
   * A timeout ran out at `now`: doubles the timeout, once per timeout (the
   * packets that expire together, over several polls, are one timeout).
   * Returns whether it backed off, so that the window is halved once too.
   */
  backOff(now: number): boolean {
    if (now < this.backedOffUntil) return false;
    this.timeout = Math.min(MAX_RTO_US, this.timeout * 2);
    this.backedOffUntil = now + this.timeout;
    return true;
  }
}
