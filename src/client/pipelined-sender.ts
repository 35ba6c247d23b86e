/**
 * The fast profile's data path: VMCORE packets kept in flight across the
 * kernel's 64 KiB batches, which netdumpd allows because it acks every
 * packet on its own and writes each at its offset (spec §6.6, §6.7).
 *
 * - How many packets are in flight is window-control.ts's: sized by the
 *   server's queue as the round trip shows it, and by loss.
 * - A full window waits for a quarter of itself to be acked before it sends
 *   again, so that a poll rings the doorbell for many frames, not one per ack.
 * - A packet is lost when an ack came back for a transmit three or more
 *   transmits after its own (netdumpd acks in arrival order), or when its
 *   retransmit timeout, from the measured round-trip time (RFC 6298, Karn's
 *   rule), runs out.
 * - Acks are taken by busy polling: the dump owns the CPU, as the kernel's
 *   does, and a poll that finds nothing costs less than the round trip.
 *
 * The herald, key, KDH and FINISHED still go through the kernel's loop
 * (ReliableSender): the server does file work before some of those acks,
 * and a KDH sent twice is written twice (spec §6.7).
 */
import { NetdumpError } from '../../errors/index.js';
import type { NetStack } from '../net/stack.js';
import { allocateSummableBuffers, NETDUMP_HEADER_SIZE, NETDUMP_VMCORE, UDP_PAYLOAD_OFFSET } from '../wire/index.js';
import { ActiveClock } from './active-clock.js';
import type { SendObserver } from './observer.js';
import { PayloadPieces, writeMessageHeader, type SenderStats } from './sender.js';
import { RetransmitTimer } from './retransmit-timer.js';
import { WindowControl } from './window-control.js';

export interface PipelineSettings {
  /** Payload bytes per packet (spec §2.7). */
  maxPayload: number;
  /** Packets in the first window: one kernel batch. */
  initialWindow: number;
  /**
   * How long the dump may go without a new ack before it gives up (the
   * kernel's budget for a batch: (retries + 2) rounds of polls + 1 DELAY(500)s).
   */
  giveUpMicros: number;
  /** A monotonic clock in microseconds (the CLI's native/monotonicMicros, which allocates nothing; a test's own). */
  now: () => number;
  observer?: SendObserver;
}

/** Packets the ring holds: the most that can be unacked at once, counting from the oldest. */
export const RING_PACKETS = 512;
/**
 * How many transmits after a packet's own an acked transmit must be to make
 * that packet lost (TCP's duplicate-ack threshold, counted in transmits:
 * resends of other packets count too, which only makes it more patient).
 */
export const REORDER_THRESHOLD = 3;
/** Transmits between two polls: the poll rings the doorbell (drivers/tx-queue.ts) and reaps mbufs. */
export const TRANSMITS_PER_POLL = 32;
/** A full window waits for 1/2^REFILL_SHIFT of it to be acked before it sends again. */
export const REFILL_SHIFT = 2;
/**
 * An ack read this long after the poll before started dates no round trip:
 * it may have come any time since that poll read the ring (the dumper was
 * away: a compressor, a slow disk; or the host or a GC took the CPU, in the
 * middle of a poll), and such a round trip would read as a queue at the
 * server. Busy, the sender polls at least every 32 transmits (~0.1 ms).
 * Nor does a gap this long count towards a timeout or the give-up
 * (active-clock.ts; the host stopped the whole machine for 13 ms here).
 */
export const MAX_DATING_GAP_US = 500;

/** What the window did over a dump: the --json report's `window`. */
export interface WindowReport {
  /** Packets resent because acks of later packets overtook them. */
  overtakenResends: number;
  /** Packets resent because their retransmit timeout ran out. */
  timeoutResends: number;
  /** The window's largest size in whole packets, and its last size. */
  largestWindow: number;
  lastWindow: number;
  /** The smoothed round trip at the end, µs. */
  smoothedRttMicros: number;
}

export class PipelinedSender {
  /** The next sequence number to send; every packet below `oldest` is acked. */
  next = 1;
  private oldest = 1;
  private unacked = 0;
  readonly window: WindowControl;
  private readonly frames: Uint8Array[];
  private readonly pieces: PayloadPieces;
  private readonly views: Uint8Array[] = [];
  private readonly sentAt = new Float64Array(RING_PACKETS);
  /** The transmit number of each slot's last transmit: the order packets left in. */
  private readonly sentAs = new Float64Array(RING_PACKETS);
  private readonly transmits = new Uint8Array(RING_PACKETS);
  private readonly acked = new Uint8Array(RING_PACKETS);
  private readonly batchOf = new Int32Array(RING_PACKETS);
  private readonly batchFirst = new Float64Array(RING_PACKETS);
  private readonly batchLeft = new Int32Array(RING_PACKETS);
  private nextBatch = 0;
  private transmitCount = 0;
  /** The highest transmit number among acked packets. */
  private newestAckedAs = 0;
  private sincePoll = 0;
  /** When this poll and the one before started (or the flight began, if later): what came after was not yet read. */
  private pollStartedAt = 0;
  private previousPollStartedAt = 0;
  /**
   * The time this poll judges timeouts by. A field, not resendLost()'s argument: V8 compiles that on its own,
   * and a double passed to it was a new heap number per poll, most of a fast dump's garbage.
   */
  private judgedAt = 0;
  private readonly timer = new RetransmitTimer();
  /** Timeouts and the give-up count only the time the sender was there (active-clock.ts). */
  private readonly clock: ActiveClock;
  /** In that time: the last ack, or the start of a flight. */
  private lastProgress = 0;
  private refilling = false;
  readonly report: WindowReport = { overtakenResends: 0, timeoutResends: 0, largestWindow: 0, lastWindow: 0, smoothedRttMicros: 0 };
  private previousOnAck: (seqno: number) => void = () => undefined;

  constructor(
    private readonly stack: NetStack,
    private readonly settings: PipelineSettings,
    /** The dump's counters, shared with the kernel loop that sends the other messages. */
    readonly stats: SenderStats,
  ) {
    this.window = new WindowControl(settings.initialWindow);
    this.clock = new ActiveClock(settings.now, MAX_DATING_GAP_US);
    const frameSize = UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE + settings.maxPayload;
    this.frames = allocateSummableBuffers(RING_PACKETS, frameSize);
    this.pieces = new PayloadPieces(settings.maxPayload);
  }

  /** Takes the acks, from sequence number `first` on, until drain(). */
  begin(first: number): void {
    this.next = this.oldest = first;
    this.lastProgress = this.clock.now();
    this.previousOnAck = this.stack.onAck;
    this.stack.onAck = (seqno) => this.recordAck(seqno);
  }

  /**
   * Puts `data` (one dumper batch) in flight as VMCORE packets from `offset`;
   * returns when the last of them is sent, not acked. Throws ETIMEDOUT.
   */
  send(offset: number, data: Uint8Array): void {
    const { maxPayload } = this.settings;
    const packets = Math.max(1, Math.ceil(data.length / maxPayload));
    // A batch's slot is free once that batch is acked; the ring's span bound almost always sees to it first.
    while (this.batchLeft[this.nextBatch & (RING_PACKETS - 1)] !== 0) this.service();
    const batch = this.nextBatch++ & (RING_PACKETS - 1);
    this.batchFirst[batch] = this.next;
    this.batchLeft[batch] = packets;
    this.stats.batches++;
    this.stats.packets += packets;
    this.settings.observer?.batch(NETDUMP_VMCORE, offset, this.next >>> 0, packets, data.length);
    for (let index = 0; index < packets; index++) {
      while (!this.roomForOne()) this.service();
      const start = index * maxPayload;
      this.enqueue(batch, offset + start, this.pieces.piece(data, index, Math.min(maxPayload, data.length - start)));
    }
    // Ring the doorbell now, and again for what that poll resent: the dumper's next write may be a while.
    while (this.sincePoll > 0) this.service();
  }

  /** Waits until every packet sent is acked, then gives the acks back to whoever had them before begin(). */
  drain(): void {
    while (this.unacked > 0) this.service();
    this.stack.onAck = this.previousOnAck;
    this.report.lastWindow = this.window.size;
    this.report.smoothedRttMicros = this.timer.smoothedRtt;
  }

  private roomForOne(): boolean {
    if (this.sincePoll >= TRANSMITS_PER_POLL || this.next - this.oldest >= RING_PACKETS) return false;
    const window = Math.floor(this.window.size);
    // Once full, wait for a quarter of the window to come back: one sendmmsg for many frames, not one per ack.
    if (this.unacked >= window) this.refilling = true;
    else if (this.refilling && this.unacked <= window - Math.max(1, window >> REFILL_SHIFT)) this.refilling = false;
    return !this.refilling;
  }

  private enqueue(batch: number, offset: number, payload: Uint8Array): void {
    const slot = this.next & (RING_PACKETS - 1);
    const frame = this.frames[slot]!;
    writeMessageHeader(frame, NETDUMP_VMCORE, this.next >>> 0, offset, payload.length);
    frame.set(payload, UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE);
    const length = this.stack.frameMessage(frame, NETDUMP_HEADER_SIZE + payload.length);
    if (this.views[slot]?.length !== length) this.views[slot] = frame.subarray(0, length);
    this.acked[slot] = 0;
    this.transmits[slot] = 0;
    this.batchOf[slot] = batch;
    // Nothing in flight until now: the give-up time counts from here, not from the last ack (the dumper may have
    // been slow), and no ack can have waited in the ring since the last poll.
    if (this.unacked === 0) {
      this.lastProgress = this.clock.now();
      this.pollStartedAt = this.clock.lastReading;
    }
    this.next++;
    this.unacked++;
    this.transmit(slot);
  }

  private transmit(slot: number): void {
    this.stack.transmit(this.views[slot]!);
    this.sincePoll++;
    this.sentAt[slot] = this.clock.now();
    this.sentAs[slot] = ++this.transmitCount;
    if (this.transmits[slot]! < 255) this.transmits[slot]!++;
  }

  /**
   * One poll: acks in, then what is lost goes again. Time is judged as of
   * the poll's start, not its end: every ack that came before then has been
   * read, but the poll may have stalled after (the host or a GC took the CPU
   * for 14-26 ms in short dumps here) and the acks that came meanwhile are
   * still in the ring: the next poll reads them.
   */
  private service(): void {
    this.sincePoll = 0;
    const judgedAt = (this.judgedAt = this.clock.now());
    this.previousPollStartedAt = this.pollStartedAt;
    this.pollStartedAt = this.clock.lastReading;
    this.stack.poll();
    this.stats.polls++;
    if (this.unacked === 0) return;
    if (judgedAt - this.lastProgress > this.settings.giveUpMicros) throw this.timedOut(judgedAt);
    this.resendLost();
  }

  /**
   * Resends, oldest first, each unacked packet that later packets' acks
   * overtook, or whose timeout ran out; one loss-recovery round per call.
   */
  private resendLost(): void {
    const now = this.judgedAt;
    const overtakenBelow = this.newestAckedAs - REORDER_THRESHOLD;
    let resent = 0;
    let timedOut = false;
    for (let seq = this.oldest; seq < this.next; seq++) {
      const slot = seq & (RING_PACKETS - 1);
      if (this.acked[slot] === 1) continue;
      const overtaken = this.sentAs[slot]! <= overtakenBelow;
      const expired = now - this.sentAt[slot]! >= this.timer.timeout;
      // Packets sent once go in transmit order: the first neither overtaken nor expired ends the scan.
      if (!overtaken && !expired) {
        if (this.transmits[slot] === 1) break;
        continue;
      }
      // The doorbell and the mbufs want a poll first; the rest go at the next call.
      if (this.sincePoll >= TRANSMITS_PER_POLL) break;
      this.transmit(slot);
      this.stats.retransmittedPackets++;
      this.settings.observer?.resend(seq >>> 0);
      resent++;
      // A timeout halves the window once, below; a packet overtaken by later acks takes one packet off.
      if (overtaken) {
        this.window.lost();
        this.report.overtakenResends++;
      } else {
        timedOut = true;
        this.report.timeoutResends++;
      }
    }
    if (resent === 0) return;
    // Nothing came back for a timeout: the window is too big for the path, or the server stalled. Once per timeout.
    if (timedOut && this.timer.backOff(now)) this.window.timedOut();
    this.stats.retransmitRounds++;
    this.settings.observer?.retransmitRound(this.stats.retransmitRounds, resent, 'window');
  }

  private recordAck(ackSeqno: number): void {
    const distance = (ackSeqno - this.oldest) >>> 0;
    if (distance >= this.next - this.oldest) return; // acked before, or never sent
    const seq = this.oldest + distance;
    const slot = seq & (RING_PACKETS - 1);
    if (this.acked[slot] === 1) return; // a duplicate (a resend's, or the network's): it counts and dates nothing
    this.acked[slot] = 1;
    this.unacked--;
    this.stats.acks++;
    this.settings.observer?.ack(ackSeqno);
    this.lastProgress = this.clock.now();
    const now = this.clock.lastReading;
    // Karn's rule: the ack of a packet sent twice may be the first one's, so it dates nothing, neither a
    // round trip nor which transmits it overtook (taking it for the resend's would resend all sent before it).
    const sentOnce = this.transmits[slot] === 1;
    if (sentOnce && this.sentAs[slot]! > this.newestAckedAs) this.newestAckedAs = this.sentAs[slot]!;
    const rtt = sentOnce && now - this.previousPollStartedAt <= MAX_DATING_GAP_US ? this.lastProgress - this.sentAt[slot]! : undefined;
    if (rtt !== undefined) this.timer.sample(rtt);
    this.window.acked(seq, this.next, rtt);
    // In whole packets, as the window is used: a fraction turning up in a field that held whole numbers would make
    // V8 throw away the optimized code of this loop in the middle of the dump.
    const usable = Math.floor(this.window.size);
    if (usable > this.report.largestWindow) this.report.largestWindow = usable;
    this.completeBatchOf(slot);
    while (this.oldest < this.next && this.acked[this.oldest & (RING_PACKETS - 1)] === 1) this.oldest++;
  }

  private completeBatchOf(slot: number): void {
    const batch = this.batchOf[slot]!;
    if (--this.batchLeft[batch]! > 0) return;
    this.settings.observer?.batchAcked(this.batchFirst[batch]! >>> 0);
  }

  private timedOut(now: number): NetdumpError {
    const waited = ((now - this.lastProgress) / 1000).toFixed(0);
    return new NetdumpError('ETIMEDOUT', `no ack for ${this.unacked} packets in flight (the oldest seq ${this.oldest}) for ${waited} ms`);
  }
}
