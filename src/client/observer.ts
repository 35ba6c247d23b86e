/**
 * What the send loop reports as it runs, for tracing: each delay tick
 * (DELAY(500) after a poll), each ack accepted into the window, each
 * retransmit round. The tracer middleware has these methods; it need not
 * import this interface to satisfy it.
 */
export interface SendObserver {
  tick(microseconds: number): void;
  ack(seqno: number): void;
  retransmitRound(round: number, packets: number): void;
}
