/**
 * What PacketSocket and PcapSocket share: raw Ethernet frames on one
 * interface, received into slots allocated once, with (slot, length, flags)
 * per frame in the results buffer.
 */
import { asNetdumpError, call, type NativeFrameSocket } from './addon.js';
import type { InterfaceInfo } from './socket-types.js';

const RESULT_FIELDS = 3; // slot, length, flags

/** Bits of link(): Linux's IFF_UP and IFF_RUNNING (the interface has a carrier). */
export const LinkFlag = { Up: 1, Running: 2 } as const;

export abstract class FrameSocket<Native extends NativeFrameSocket> {
  protected readonly native: Native;
  private readonly results: Uint32Array;
  private readonly slotSize: number;
  private readonly frames: Buffer[] = [];
  private readonly slotViews: Buffer[] = [];

  protected constructor(native: Native) {
    this.native = native;
    const { rxResults, rxData } = native;
    this.results = new Uint32Array(rxResults.buffer, rxResults.byteOffset, rxResults.length / 4);
    this.slotSize = rxData.length / (this.results.length / RESULT_FIELDS);
  }

  /** Current facts of the interface (re-read on every call). */
  info(): InterfaceInfo {
    return call(() => this.native.info());
  }

  /** LinkFlag bits of the interface now, from one ioctl and no allocation: cheap enough for every poll. */
  link(): number {
    try {
      return this.native.link();
    } catch (error) {
      throw asNetdumpError(error);
    }
  }

  /** The interface's GRO setting (Linux's LRO); with an argument, changes it first. */
  gro(enabled?: boolean): boolean {
    return call(() => (enabled === undefined ? this.native.gro() : this.native.gro(enabled)));
  }

  /** Sends one complete Ethernet frame (no FCS). Called per packet: no closure, unlike call(). */
  send(frame: Uint8Array): void {
    try {
      this.native.send(frame);
    } catch (error) {
      throw asNetdumpError(error);
    }
  }

  /**
   * Receives up to `max` waiting frames without blocking. The returned
   * buffers are views into receive slots that the next call overwrites,
   * and the same view objects come back while a slot's length stays the
   * same: copy what must outlive the call.
   */
  recvBatch(max: number): Buffer[] {
    const count = this.receiveIntoSlots(max);
    const frames = this.frames;
    frames.length = count;
    for (let i = 0; i < count; i++) frames[i] = this.frameAt(i);
    return frames;
  }

  /**
   * Receives up to `max` waiting frames without blocking and hands each to
   * `input` with its RxFlag bits; returns how many. No array is built: this
   * is the driver's poll path. The views are valid during the call only.
   */
  receive(max: number, input: (frame: Buffer, flags: number) => void): number {
    const count = this.receiveIntoSlots(max);
    for (let i = 0; i < count; i++) input(this.frameAt(i), this.rxFlags(i));
    return count;
  }

  private receiveIntoSlots(max: number): number {
    try {
      return this.native.recvBatch(max);
    } catch (error) {
      throw asNetdumpError(error);
    }
  }

  private frameAt(index: number): Buffer {
    return this.slotView(this.results[RESULT_FIELDS * index]!, this.results[RESULT_FIELDS * index + 1]!);
  }

  /** A view of a slot's first `length` bytes, reused while the slot keeps receiving that length (acks all have one). */
  private slotView(slot: number, length: number): Buffer {
    const cached = this.slotViews[slot];
    if (cached !== undefined && cached.length === length) return cached;
    const start = slot * this.slotSize;
    return (this.slotViews[slot] = this.native.rxData.subarray(start, start + length));
  }

  /** RxFlag bits of frame `index` of the last recvBatch or receive. */
  rxFlags(index: number): number {
    return this.results[RESULT_FIELDS * index + 2] ?? 0;
  }

  close(): void {
    this.native.close();
  }
}
