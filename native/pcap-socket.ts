/**
 * PcapSocket: raw Ethernet frames in and out of one interface through
 * libpcap, built into the addon when libpcap-dev is installed. Opened
 * unpromiscuous, in immediate mode and for incoming frames only. Unlike
 * PacketSocket it cannot open an interface that is down (libpcap refuses).
 */
import { addon, call, type NativePcapSocket } from './addon.js';
import type { InterfaceInfo, SocketStats } from './packet-socket.js';

export interface PcapOpenOptions {
  /** Open the interface inside this network namespace (a name under /var/run/netns, or a path). */
  netns?: string;
  /** Receive slots allocated once; recvBatch returns at most this many frames. Default 256. */
  rxSlots?: number;
  /** libpcap's kernel buffer (pcap_set_buffer_size) in bytes. Default 8 MiB (about 128 frames with offloads on). */
  bufferSize?: number;
}

/** The libpcap the addon was built with ("libpcap version 1.10.3 ..."), or null if it was built without. */
export const pcapVersion: string | null = addon.pcapVersion;

const RESULT_FIELDS = 3; // slot, length, flags

/** One interface through libpcap: the PacketSocket calls the pcap backend needs. */
export class PcapSocket {
  private readonly native: NativePcapSocket;
  private readonly results: Uint32Array;
  private readonly slotSize: number;
  private readonly frames: Buffer[] = [];

  private constructor(native: NativePcapSocket) {
    this.native = native;
    const { rxResults, rxData } = native;
    this.results = new Uint32Array(rxResults.buffer, rxResults.byteOffset, rxResults.length / 4);
    this.slotSize = rxData.length / (this.results.length / RESULT_FIELDS);
  }

  /** Throws NetdumpError ENOSYS if the addon was built without libpcap. */
  static open(ifname: string, options: PcapOpenOptions = {}): PcapSocket {
    return new PcapSocket(call(() => new addon.PcapSocket(ifname, options)));
  }

  /** Current facts of the interface (re-read on every call). */
  info(): InterfaceInfo {
    return call(() => this.native.info());
  }

  /** The interface's GRO setting (Linux's LRO); with an argument, changes it first. */
  gro(enabled?: boolean): boolean {
    return call(() => (enabled === undefined ? this.native.gro() : this.native.gro(enabled)));
  }

  /** libpcap's counters since open (pcap_stats); outgoingSkipped is always 0: libpcap drops those itself. */
  stats(): SocketStats {
    return call(() => this.native.stats());
  }

  /** Sends one complete Ethernet frame (no FCS) with pcap_inject. */
  send(frame: Uint8Array): void {
    call(() => this.native.send(frame));
  }

  /**
   * Receives up to `max` waiting frames without blocking. The returned
   * buffers are views into receive slots that the next call overwrites:
   * copy what must outlive it.
   */
  recvBatch(max: number): Buffer[] {
    const count = call(() => this.native.recvBatch(max));
    const frames = this.frames;
    frames.length = count;
    for (let i = 0; i < count; i++) {
      const start = this.results[RESULT_FIELDS * i]! * this.slotSize;
      frames[i] = this.native.rxData.subarray(start, start + this.results[RESULT_FIELDS * i + 1]!);
    }
    return frames;
  }

  /** RxFlag bits of frame `index` of the last recvBatch: always 0 (libpcap does not pass Linux's aux data). */
  rxFlags(index: number): number {
    return this.results[RESULT_FIELDS * index + 2] ?? 0;
  }

  /** Calls `callback` from the event loop whenever frames wait to be received. */
  onReadable(callback: () => void): void {
    call(() => this.native.watch(callback));
  }

  stopWatching(): void {
    call(() => this.native.unwatch());
  }

  close(): void {
    this.native.close();
  }
}
