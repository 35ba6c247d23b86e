/**
 * Middleware: one JSON line per event of the dump's polling path, with
 * monotonic microsecond timestamps: every transmit (with the netdump type
 * and sequence number when it carries one), every poll with the frames it
 * returned, and, through the client's observer hooks, every 0.5 ms delay
 * tick, accepted ack and retransmit round. Lines are buffered and written
 * in blocks.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

import type { SendObserver } from '../../src/client/observer.js';
import { NetdumpError } from '../../src/errors.js';
import type { FrameInput, NetdumpDriver } from '../driver.js';
import { DriverWrapper } from './wrapper.js';

const NETDUMP_HEADER_AT = 42; // Ethernet 14 + IPv4 20 + UDP 8
const FLUSH_LINES = 4096;

export interface TraceCounts {
  transmits: number;
  polls: number;
  framesReceived: number;
  ticks: number;
  acks: number;
  retransmitRounds: number;
}

function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export class TracingDriver extends DriverWrapper implements SendObserver {
  readonly counts: TraceCounts = { transmits: 0, polls: 0, framesReceived: 0, ticks: 0, acks: 0, retransmitRounds: 0 };
  private readonly fd: number;
  private lines: string[] = [];
  private input: FrameInput = () => undefined;
  private received = 0;
  private readonly count: FrameInput = (frame, flags) => {
    this.received++;
    this.input(frame, flags);
  };

  constructor(inner: NetdumpDriver, path: string) {
    super(inner);
    try {
      this.fd = openSync(path, 'w', 0o644);
    } catch (error) {
      throw new NetdumpError((error as NodeJS.ErrnoException).code ?? 'EIO', `cannot write the trace ${path}: ${(error as Error).message}`);
    }
  }

  override transmit(frame: Uint8Array): void {
    this.inner.transmit(frame);
    this.counts.transmits++;
    const ethertype = (frame[12]! << 8) | frame[13]!;
    if (ethertype === 0x0800 && frame.length >= NETDUMP_HEADER_AT + 24) {
      const view = new DataView(frame.buffer, frame.byteOffset + NETDUMP_HEADER_AT);
      this.line(`"event":"transmit","bytes":${frame.length},"type":${view.getUint32(0)},"seq":${view.getUint32(4)}`);
    } else {
      this.line(`"event":"transmit","bytes":${frame.length},"ethertype":${ethertype}`);
    }
  }

  override poll(count: number, input: FrameInput): number {
    this.input = input;
    this.received = 0;
    const returned = this.inner.poll(count, this.count);
    this.counts.polls++;
    this.counts.framesReceived += this.received;
    this.line(`"event":"poll","frames":${this.received}`);
    return returned;
  }

  tick(): void {
    this.counts.ticks++;
    this.line('"event":"tick","us":500');
  }

  ack(seqno: number): void {
    this.counts.acks++;
    this.line(`"event":"ack","seq":${seqno}`);
  }

  retransmitRound(round: number, packets: number): void {
    this.counts.retransmitRounds++;
    this.line(`"event":"retransmit","round":${round},"packets":${packets}`);
  }

  override close(): void {
    this.flush();
    closeSync(this.fd);
    this.inner.close();
  }

  private line(fields: string): void {
    this.lines.push(`{"t":${monotonicMicros()},${fields}}\n`);
    if (this.lines.length >= FLUSH_LINES) this.flush();
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    writeSync(this.fd, this.lines.join(''));
    this.lines = [];
  }
}
