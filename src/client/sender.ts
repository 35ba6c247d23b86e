/**
 * The kernel's reliable send (netdump_send / debugnet_send, spec §3.3):
 * split a buffer into packets numbered base, base+1, …, transmit them back
 * to back, then poll and busy-wait 0.5 ms until every ack is in; after
 * polls+1 fruitless iterations resend only what is unacked; give up after
 * retries+2 rounds. No pipelining across buffers.
 */
import { NetdumpError } from '../../errors/index.js';
import { POLL_DELAY_US } from '../net/behaviour.js';
import type { NetStack } from '../net/stack.js';
import {
  allocateSummableBuffers,
  IPV4_HEADER_SIZE,
  NETDUMP_HEADER_SIZE,
  setNetdumpAux2,
  setNetdumpLen,
  setNetdumpOffset,
  setNetdumpSeqno,
  setNetdumpType,
  UDP_HEADER_SIZE,
  UDP_PAYLOAD_OFFSET,
} from '../wire/index.js';
import { AckWindow, WINDOW_SIZE } from './ack-window.js';
import type { SendObserver } from './observer.js';

export interface SenderSettings {
  /** net.netdump.polls: wait steps (a poll and DELAY(500)) per round. */
  polls: number;
  /** net.netdump.retries: retransmit rounds allowed. */
  retries: number;
  /** Payload bytes per packet (spec §2.7). */
  maxPayload: number;
  /** Reproduce the kernel's 32-bit ack-bit aliasing (spec §3.7). */
  ackBugCompat: boolean;
  /** The name the kernel prints in "ACK … too far in future!". */
  ackFunctionName: string;
  print: (text: string) => void;
  /** Told of every delay tick, accepted ack and retransmit round (for tracing). */
  observer?: SendObserver;
}

export interface SenderStats {
  /** Calls of send(): one batch each. */
  batches: number;
  /** Packets first transmitted. */
  packets: number;
  /** Packets sent again in retransmit rounds. */
  retransmittedPackets: number;
  retransmitRounds: number;
  /** Driver polls in wait loops. */
  polls: number;
  /** Acks accepted into a batch's window. */
  acks: number;
}

/** Largest buffer one send() takes: the dumper's 64 KiB (MAXDUMPPGS × PAGE_SIZE). */
export const MAX_BATCH_BYTES = 64 * 1024;

/** The packets of a full 64 KiB batch at `maxPayload` bytes each. */
export const packetsPerBatch = (maxPayload: number): number => Math.ceil(MAX_BATCH_BYTES / maxPayload);

export class ReliableSender {
  /** The sequence number of the next batch's first packet; starts at 1. */
  seqno = 1;
  readonly stats: SenderStats = { batches: 0, packets: 0, retransmittedPackets: 0, retransmitRounds: 0, polls: 0, acks: 0 };
  private readonly window: AckWindow;
  private readonly frames: Uint8Array[];
  /** Per frame, a view of its current length, kept so that transmits allocate nothing. */
  private readonly views: Uint8Array[] = [];
  private readonly payloadLengths: Uint32Array;
  private readonly pieces: PayloadPieces;

  constructor(
    private readonly stack: NetStack,
    private readonly settings: SenderSettings,
  ) {
    this.window = new AckWindow(settings.ackBugCompat);
    const batchPackets = packetsPerBatch(settings.maxPayload);
    if (batchPackets > WINDOW_SIZE && !settings.ackBugCompat) {
      const smallestMtu = MAX_BATCH_BYTES / WINDOW_SIZE + NETDUMP_HEADER_SIZE + UDP_HEADER_SIZE + IPV4_HEADER_SIZE;
      throw new NetdumpError(
        'EMSGSIZE',
        `a 64 KiB batch needs ${batchPackets} packets of ${settings.maxPayload} bytes, more than the 64-packet ack window; use an MTU of at least ${smallestMtu}`,
      );
    }
    const frameSize = UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE + settings.maxPayload;
    this.frames = allocateSummableBuffers(Math.max(1, batchPackets), frameSize);
    this.payloadLengths = new Uint32Array(Math.max(1, batchPackets));
    this.pieces = new PayloadPieces(settings.maxPayload);
    stack.onAck = (ackSeqno) => this.recordAck(ackSeqno);
  }

  /** Sends `data` (at most 64 KiB) as one batch of `type` messages starting at `offset`; throws ETIMEDOUT. */
  send(type: number, offset: number, data: Uint8Array): void {
    if (data.length > MAX_BATCH_BYTES)
      throw new NetdumpError('EINVAL', `a batch holds at most ${MAX_BATCH_BYTES} bytes, not ${data.length}`);
    const count = this.buildBatch(type, offset, data);
    this.window.reset();
    this.stats.batches++;
    this.stats.packets += count;
    this.settings.observer?.batch(type, offset, this.seqno, count, data.length);
    this.transmit(count, false);
    if (count > WINDOW_SIZE) {
      this.settings.print(
        `Warning: Sent more than ${WINDOW_SIZE} packets (${count}). Acknowledgements will fail unless the size of rcvd_acks/want_acks is increased.\n`,
      );
    }
    this.waitForAcks(count);
    this.settings.observer?.batchAcked(this.seqno);
    this.seqno += count;
  }

  /** Writes every packet's netdump header and payload into its frame; returns the packet count. */
  private buildBatch(type: number, offset: number, data: Uint8Array): number {
    const { maxPayload } = this.settings;
    let index = 0;
    for (let sent = 0; sent < data.length || (index === 0 && data.length === 0); index++) {
      const length = Math.min(maxPayload, data.length - sent);
      const frame = this.frames[index]!;
      writeMessageHeader(frame, type, (this.seqno + index) >>> 0, offset + sent, length);
      frame.set(this.pieces.piece(data, index, length), UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE);
      this.payloadLengths[index] = length;
      sent += length;
    }
    return index;
  }

  /** One transmit pass over the packets not yet acked (all of them the first time). */
  private transmit(count: number, retransmission: boolean): void {
    for (let index = 0; index < count; index++) {
      if (this.window.isAcked(index)) continue;
      const frame = this.frames[index]!;
      const length = this.stack.frameMessage(frame, NETDUMP_HEADER_SIZE + this.payloadLengths[index]!);
      this.stack.transmit(this.viewOf(index, length));
      this.window.want(index);
      if (retransmission) {
        this.stats.retransmittedPackets++;
        this.settings.observer?.resend((this.seqno + index) >>> 0);
      }
    }
  }

  private viewOf(index: number, length: number): Uint8Array {
    const cached = this.views[index];
    if (cached !== undefined && cached.length === length) return cached;
    return (this.views[index] = this.frames[index]!.subarray(0, length));
  }

  private waitForAcks(count: number): void {
    let retries = 0;
    let polls = 0;
    while (!this.window.complete()) {
      if (polls++ > this.settings.polls) {
        if (retries++ > this.settings.retries) {
          throw new NetdumpError('ETIMEDOUT', this.timeoutMessage(count, retries));
        }
        this.settings.print('. ');
        this.stats.retransmitRounds++;
        const resentBefore = this.stats.retransmittedPackets;
        this.transmit(count, true);
        this.settings.observer?.retransmitRound(this.stats.retransmitRounds, this.stats.retransmittedPackets - resentBefore, 'kernel');
        polls = 0;
        continue;
      }
      this.stack.pollAndWait();
      this.stats.polls++;
      this.settings.observer?.tick(POLL_DELAY_US);
    }
  }

  private timeoutMessage(count: number, rounds: number): string {
    const missing = this.window.missing(count);
    // Under --ack-bug-compat, bits alias (spec §3.7): the stray's own sequence number cannot be told.
    const beyond = this.settings.ackBugCompat ? -1 : this.window.ackedBeyond(count);
    if (missing > 0 || beyond < 0) return `no ack for ${missing} of ${count} packets after ${rounds} rounds`;
    return (
      `all ${count} packets were acked, and so was sequence number ${this.seqno + beyond}, which was never sent: ` +
      `the kernel waits for its acked bitmap to equal the sent one, so the batch never completes (spec §3.3); gave up after ${rounds} rounds`
    );
  }

  private recordAck(ackSeqno: number): void {
    if (ackSeqno >= this.seqno + WINDOW_SIZE) {
      this.settings.print(`${this.settings.ackFunctionName}: ACK ${ackSeqno} too far in future!\n`);
    } else if (ackSeqno >= this.seqno) {
      this.window.ack(ackSeqno - this.seqno);
      this.stats.acks++;
      this.settings.observer?.ack(ackSeqno);
    }
  }
}

/**
 * Packet-sized views of the caller's buffer, kept while the caller passes
 * the same buffer (the dumper does, batch after batch), so that copying a
 * packet's payload allocates nothing: a view per packet was 4-5 KB of
 * garbage per batch, and the scavenges it caused were part of the tail.
 */
export class PayloadPieces {
  private buffer: ArrayBufferLike | undefined;
  private byteOffset = 0;
  private readonly views: Uint8Array[] = [];

  constructor(private readonly maxPayload: number) {}

  /** data[index × maxPayload, + length): a kept view when the piece is full-sized. */
  piece(data: Uint8Array, index: number, length: number): Uint8Array {
    const start = index * this.maxPayload;
    if (length !== this.maxPayload) return data.subarray(start, start + length);
    if (data.buffer !== this.buffer || data.byteOffset !== this.byteOffset) {
      this.buffer = data.buffer;
      this.byteOffset = data.byteOffset;
      this.views.length = 0;
    }
    return (this.views[index] ??= data.subarray(start, start + length));
  }
}

/** The 24-byte netdump header (spec §2.5) in front of the payload, field by field: no repr object per packet. */
export function writeMessageHeader(frame: Uint8Array, type: number, seqno: number, offset: number, length: number): void {
  setNetdumpType(frame, UDP_PAYLOAD_OFFSET, type);
  setNetdumpSeqno(frame, UDP_PAYLOAD_OFFSET, seqno);
  setNetdumpOffset(frame, UDP_PAYLOAD_OFFSET, offset);
  setNetdumpLen(frame, UDP_PAYLOAD_OFFSET, length);
  setNetdumpAux2(frame, UDP_PAYLOAD_OFFSET, 0);
}
