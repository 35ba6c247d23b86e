import type { Profile } from './profile.js';

/**
 * What the send loop reports as it runs, for tracing: each batch as it
 * starts (its type, offset, sequence numbers and size) and when its last
 * ack is in, each delay tick (DELAY(500) after a poll), each ack accepted
 * into the window, each packet sent again and each retransmit round (which
 * loop's: the kernel's, after its polls, or the fast profile's window). The
 * tracer middleware has these methods; it need not import this interface
 * to satisfy it.
 */
export interface SendObserver {
  batch(type: number, offset: number, firstSeqno: number, packets: number, bytes: number): void;
  batchAcked(firstSeqno: number): void;
  tick(microseconds: number): void;
  ack(seqno: number): void;
  resend(seqno: number): void;
  retransmitRound(round: number, packets: number, loop: Profile['sendLoop']): void;
}
