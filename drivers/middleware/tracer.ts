/**
 * Middleware: one JSON line per event of the dump's polling path, with
 * monotonic microsecond timestamps: every transmit (with the netdump type
 * and sequence number when it carries one), every poll with the frames it
 * returned, and, through the client's observer hooks, every batch (start
 * and last ack), DELAY(500) tick, accepted ack, packet resent and
 * retransmit round. The dump's thread only stores
 * a 40-byte record per event; a worker thread formats and writes the lines.
 */
import {
  ethernetEtherType,
  ETHERTYPE_IPV4,
  isUdpFrame,
  NETDUMP_HEADER_SIZE,
  netdumpSeqno,
  netdumpType,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import type { FrameInput, NetdumpDriver } from '../driver.js';
import { TraceFile } from './trace-file.js';
import { offsetHigh, offsetLow, TraceEvent } from './trace-records.js';
import { DriverWrapper } from './wrapper.js';

export interface TraceCounts {
  transmits: number;
  polls: number;
  framesReceived: number;
  ticks: number;
  acks: number;
  retransmitRounds: number;
}

/** Also the client's SendObserver: batches, ticks, acks, resends and retransmit rounds come from the send loop. */
export class TracingDriver extends DriverWrapper {
  readonly counts: TraceCounts = { transmits: 0, polls: 0, framesReceived: 0, ticks: 0, acks: 0, retransmitRounds: 0 };
  private readonly file: TraceFile;
  private input: FrameInput = () => undefined;
  private received = 0;
  private readonly count: FrameInput = (frame, flags) => {
    this.received++;
    this.input(frame, flags);
  };

  constructor(inner: NetdumpDriver, path: string) {
    super(inner);
    this.file = new TraceFile(path);
  }

  override transmit(frame: Uint8Array): void {
    this.inner.transmit(frame);
    this.counts.transmits++;
    const etherType = ethernetEtherType(frame);
    if (etherType === ETHERTYPE_IPV4 && isUdpFrame(frame, NETDUMP_HEADER_SIZE)) {
      this.file.record(
        TraceEvent.netdumpTransmit,
        frame.length,
        netdumpType(frame, UDP_PAYLOAD_OFFSET),
        netdumpSeqno(frame, UDP_PAYLOAD_OFFSET),
      );
    } else {
      this.file.record(TraceEvent.otherTransmit, frame.length, etherType);
    }
  }

  override poll(count: number, input: FrameInput): number {
    this.input = input;
    this.received = 0;
    const returned = this.inner.poll(count, this.count);
    this.counts.polls++;
    this.counts.framesReceived += this.received;
    this.file.record(TraceEvent.poll, this.received);
    return returned;
  }

  tick(microseconds: number): void {
    this.counts.ticks++;
    this.file.record(TraceEvent.tick, microseconds);
  }

  ack(seqno: number): void {
    this.counts.acks++;
    this.file.record(TraceEvent.ack, seqno);
  }

  retransmitRound(round: number, packets: number): void {
    this.counts.retransmitRounds++;
    this.file.record(TraceEvent.retransmit, round, packets);
  }

  batch(type: number, offset: number, firstSeqno: number, packets: number, bytes: number): void {
    this.file.record(TraceEvent.batch, type, firstSeqno, packets, bytes, offsetHigh(offset), offsetLow(offset));
  }

  batchAcked(firstSeqno: number): void {
    this.file.record(TraceEvent.batchAcked, firstSeqno);
  }

  resend(seqno: number): void {
    this.file.record(TraceEvent.resend, seqno);
  }

  override close(): void {
    try {
      this.file.close();
    } finally {
      this.inner.close();
    }
  }
}
