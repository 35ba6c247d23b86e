/**
 * What a driver shim needs from the layer below it: frames in and out of
 * one Linux interface. AfPacketBackend (drivers/afpacket.ts) and
 * PcapBackend (drivers/pcap-backend.ts) implement it; the shims (generic,
 * em/igb, vtnet) take any of them.
 */
import type { FrameInput, InterfaceFacts } from './driver.js';

export interface FrameBackend {
  /** Facts of the interface, re-read from Linux on every call. */
  facts(): InterfaceFacts;
  /** LinkFlag bits (up, running) now; cheap enough to read at every poll. */
  link(): number;
  /** The interface's GRO setting; with an argument, changes it first. */
  gro(enabled?: boolean): boolean;
  /**
   * Takes a copy of one complete Ethernet frame, as a TX ring takes a
   * descriptor: it goes out at the next flush() (at once where the backend
   * has no queue), and the caller may reuse its buffer at once.
   */
  queue(frame: Uint8Array): void;
  /** The doorbell: every queued frame goes out now. */
  flush(): void;
  /** Receives up to `max` waiting frames without blocking, handing each to `input`; returns how many. */
  receive(max: number, input: FrameInput): number;
  close(): void;
}

/** The most frames one poll may hand up: vtnet's rx_process_limit, above the kernel's count of 1000. */
export const MAX_POLL_FRAMES = 1024;
