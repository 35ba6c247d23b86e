/**
 * The NIC-driver interface, as small as FreeBSD's debugnet methods
 * (spec §8.1): the client reaches the wire through these four calls and
 * nothing else.
 */

/** FreeBSD's mbuf cluster sizes: what a driver's init() reports as clusterSize. */
export const MCLBYTES = 2048;
export const MJUMPAGESIZE = 4096;
export const MJUM9BYTES = 9216;
/** The standard Ethernet MTU, FreeBSD's ETHERMTU. */
export const ETHERMTU = 1500;
/*
 * What a frame adds to the MTU (max_frame_size = mtu + 18). Drivers keep
 * their own copy, as FreeBSD's take it from net/ethernet.h: the layer rules
 * keep drivers below src/wire, which has the same two sizes.
 */
export const ETHER_HDR_LEN = 14;
export const ETHER_CRC_LEN = 4;
export const ETHER_FRAME_OVERHEAD = ETHER_HDR_LEN + ETHER_CRC_LEN;

/** What `init` reports; the client sizes its preallocated buffer pools from it (spec §8.1). */
export interface DriverInit {
  rxRings: number;
  clustersPerRing: number;
  clusterSize: number;
}

export type DriverEvent = 'start' | 'end';

/**
 * What a driver knows of a received frame beyond its bytes, as FreeBSD's
 * mbuf csum_flags and M_VLANTAG say it: the bits the native sockets report.
 */
export { RxFlag } from '../native/index.js';

/** One received frame; valid only during the call. `flags` are RxFlag bits. */
export type FrameInput = (frame: Uint8Array, flags: number) => void;

/** Facts about the interface a driver runs, read from Linux. */
export interface InterfaceFacts {
  name: string;
  mac: Uint8Array;
  mtu: number;
  up: boolean;
  running: boolean;
  /** The Linux driver's name ("veth", "virtio_net", "e1000e", ...). */
  linuxDriver: string;
  /** RX queues Linux has in use, and the most it could have (ethtool channels; 1 when not reported). */
  rxQueues: number;
  maxRxQueues: number;
}

export interface NetdumpDriver {
  /** The shim's name: generic, em, igb, vtnet. */
  readonly name: string;
  facts(): InterfaceFacts;
  init(): DriverInit;
  event(event: DriverEvent): void;
  /**
   * Puts one complete Ethernet frame on the NIC's TX ring; the buffer may be
   * reused when this returns. It leaves when the next poll (or the end
   * event) rings the doorbell (drivers/tx-queue.ts). Throws NetdumpError
   * EBUSY (ring full, link down); any failure aborts the dump, as in the kernel.
   */
  transmit(frame: Uint8Array): void;
  /**
   * Rings the doorbell for what transmit queued, reaps completed transmits
   * and at most the driver's budget of received frames. A send error
   * (ENETDOWN, ENOBUFS) is thrown here and aborts the dump.
   */
  poll(count: number, input: FrameInput): number;
  close(): void;
}
