/**
 * What the send loop reports as it runs, for tracing: each 0.5 ms delay
 * tick, each ack accepted into the window, each retransmit round.
 */
export interface SendObserver {
  tick(): void;
  ack(seqno: number): void;
  retransmitRound(round: number, packets: number): void;
}
