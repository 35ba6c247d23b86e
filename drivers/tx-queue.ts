/**
 * TX queue 0 of a shim during a dump, as iflib's and vtnet's transmit
 * methods see it: descriptors handed to the NIC since the last poll (a poll
 * reclaims them all), and the link's running flag, read at the start event
 * and at polls rather than for every frame (re-reading all the interface's
 * facts cost 8-10 µs, more than a transmit). In a panicking kernel the
 * flags a transmit checks cannot change between polls: no interrupts or
 * taskqueues run. Here a change shows at the first poll 250 µs after it.
 *
 * The doorbell. FreeBSD's drivers ring it for every frame during a dump
 * (iflib_no_tx_batch, vtnet's notify per frame): a register write of about
 * 100 ns. Here a doorbell is a system call, 2-5 µs with the peer's receive,
 * which made a 46-frame transmit pass take 230 µs instead of the kernel's
 * tens. So the queue keeps the frames and rings once, when the poll comes to
 * reclaim them: the same frames in the same order, all on the wire before
 * the poll looks for acks, at the cost of a copy each (README, "The
 * doorbell").
 */
import { LinkFlag, monotonicMicros } from '../native/index.js';
import { NetdumpError } from '../errors/index.js';
import type { FrameBackend } from './backend.js';
import type { DriverEvent } from './driver.js';

/**
 * A poll reads the link again if this long has passed since it last did:
 * at the kernel's pace (a poll per DELAY(500)) that is every poll, but the
 * fast profile polls busily, every few µs, and the system call it took
 * each time was 4.7 % of its CPU (perf, into our server).
 */
export const LINK_READ_INTERVAL_US = 250;

export class TxQueue {
  private inUse = 0;
  private flags: number;
  private linkReadAt = -Infinity;

  /** `driver` names the shim in errors; `full` says what a full ring is, for its EBUSY. */
  constructor(
    private readonly backend: FrameBackend,
    private readonly driver: string,
    private readonly depth: number,
    private readonly full: string,
  ) {
    this.flags = backend.link();
  }

  /** The driver's events: start reads the link as it is now; end rings the doorbell for what is left. */
  event(event: DriverEvent): void {
    if (event === 'start') this.flags = this.backend.link();
    else this.flushAtEnd();
  }

  /** Puts one frame on a free descriptor; EBUSY when the interface is not running or the ring is full. */
  transmit(frame: Uint8Array): void {
    // Linux's IFF_RUNNING (a carrier) stands in for the driver's IFF_DRV_RUNNING and link checks.
    if ((this.flags & LinkFlag.Running) === 0) throw new NetdumpError('EBUSY', `${this.driver}: interface is not running`);
    if (this.inUse >= this.depth) throw new NetdumpError('EBUSY', `${this.driver}: ${this.full}`);
    this.backend.queue(frame);
    this.inUse++;
  }

  /**
   * The end event rings the doorbell for what the last poll left queued (an
   * ARP reply, say). Best effort: the end event runs in the dump's cleanup,
   * which must not fail for a frame a stopping NIC could not send.
   */
  flushAtEnd(): void {
    try {
      this.backend.flush();
    } catch (error) {
      if (!(error instanceof NetdumpError)) throw error;
      // Dropped, as a NIC drops a frame it cannot send.
    }
  }

  /** A poll sends what waits, reclaims every completed transmit and reads the link again (at most every 250 µs). */
  reclaim(): void {
    this.backend.flush();
    this.inUse = 0;
    const now = monotonicMicros();
    if (now - this.linkReadAt < LINK_READ_INTERVAL_US) return;
    this.linkReadAt = now;
    this.flags = this.backend.link();
  }
}
