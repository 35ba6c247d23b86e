/** The AF_PACKET backend: frames in and out of a Linux interface through the native addon. */
import { PacketSocket, type OpenOptions } from '../native/index.js';
import { NetdumpError } from '../src/errors.js';
import { MAX_POLL_FRAMES } from './backend.js';
import { SocketBackend } from './socket-backend.js';

const ETHERNET_HEADER = 14;


/**
 * Transmit descriptors allocated once: a frame is copied into a slot when
 * queued, and the queued slots go out in one sendmmsg when the doorbell rings.
 */
class TxRing {
  private readonly slots: Uint8Array[];
  /** Per slot, a view of the queued frame's length (kept, so queueing allocates nothing). */
  private readonly views: Uint8Array[];
  queued = 0;

  constructor(depth: number, slotSize: number) {
    this.slots = Array.from({ length: depth }, () => new Uint8Array(slotSize));
    this.views = this.slots.map((slot) => slot.subarray(0, 0));
  }

  get depth(): number {
    return this.slots.length;
  }

  get full(): boolean {
    return this.queued === this.slots.length;
  }

  queue(frame: Uint8Array): void {
    const slot = this.slots[this.queued]!;
    if (frame.length > slot.length) throw new NetdumpError('EMSGSIZE', `frame of ${frame.length} bytes exceeds the MTU`);
    slot.set(frame);
    if (this.views[this.queued]!.length !== frame.length) this.views[this.queued] = slot.subarray(0, frame.length);
    this.queued++;
  }

  /** The queued frames, for one sendBatch. */
  get frames(): readonly Uint8Array[] {
    return this.views;
  }
}

export class AfPacketBackend extends SocketBackend<PacketSocket> {
  private ring: TxRing | undefined;

  constructor(iface: string, options: Pick<OpenOptions, 'netns'> = {}) {
    // As many receive slots as any shim's poll may reap (vtnet's rx_process_limit).
    super(PacketSocket.open(iface, { ...options, rxSlots: MAX_POLL_FRAMES }));
  }

  /** Gives the backend a transmit ring of `depth` descriptors, for queue() and ringDoorbell(). */
  allocateTxRing(depth: number): void {
    this.ring = new TxRing(depth, this.facts().mtu + ETHERNET_HEADER);
  }

  get txRingFull(): boolean {
    return this.ring?.full ?? false;
  }

  /** Copies a frame into the next transmit descriptor; it leaves at the next ringDoorbell(). */
  queue(frame: Uint8Array): void {
    if (this.ring === undefined) throw new NetdumpError('EINVAL', 'queue() needs allocateTxRing() first');
    this.ring.queue(frame);
  }

  /** Sends every queued frame with one sendmmsg. */
  ringDoorbell(): void {
    const ring = this.ring;
    if (ring === undefined || ring.queued === 0) return;
    const count = ring.queued;
    ring.queued = 0;
    this.socket.sendBatch(ring.frames, count);
  }
}
