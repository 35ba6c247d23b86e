/** PacketSocket: raw Ethernet frames in and out of one interface (AF_PACKET). */
import { addon, call, type NativePacketSocket } from './addon.js';

export interface InterfaceInfo {
  name: string;
  ifindex: number;
  mac: Buffer;
  mtu: number;
  up: boolean;
  running: boolean;
  /** The Linux driver's name as ethtool reports it ("veth", "virtio_net", "e1000e"), or "". */
  driver: string;
}

export interface OpenOptions {
  /** Open the interface inside this network namespace (a name under /var/run/netns, or a path). */
  netns?: string;
  /** Receive only this EtherType; every EtherType by default. */
  ethertype?: number;
  /** Open even if the interface is not up and running (to read its facts). */
  allowDown?: boolean;
  /** Receive slots allocated once; recvBatch returns at most this many frames. Default 256. */
  rxSlots?: number;
  /** SO_RCVBUF in bytes. Default 4 MiB. */
  receiveBuffer?: number;
}

export interface SocketStats {
  /** Frames the kernel queued to the socket since the last stats() call. */
  kernelReceived: number;
  /** Frames the kernel dropped because the receive buffer was full, since the last call. */
  kernelDropped: number;
  /** Frames longer than a receive slot, skipped (cumulative). */
  truncated: number;
  /** Our own outgoing frames that AF_PACKET showed and we skipped (cumulative). */
  outgoingSkipped: number;
}

const ETH_P_ALL = 0x0003;

/**
 * What Linux knows about a received frame beyond its bytes (PACKET_AUXDATA),
 * as bit flags. These are the facts a FreeBSD driver hands netdump in the
 * mbuf's csum_flags and M_VLANTAG.
 */
export const RxFlag = {
  /** The checksum was verified below us (a NIC's hardware check). */
  ChecksumValid: 1,
  /** The checksum was left to offload and never computed (a local peer over veth): do not verify. */
  ChecksumNotReady: 2,
  /** The frame carried an 802.1Q tag, which Linux stripped before showing it. */
  VlanTagged: 4,
} as const;

const RESULT_FIELDS = 3; // slot, length, flags

/** An AF_PACKET socket bound to one interface: raw Ethernet frames in and out. */
export class PacketSocket {
  private readonly native: NativePacketSocket;
  private readonly results: Uint32Array;
  private readonly slotSize: number;
  private readonly frames: Buffer[] = [];

  private constructor(native: NativePacketSocket) {
    this.native = native;
    const { rxResults, rxData } = native;
    this.results = new Uint32Array(rxResults.buffer, rxResults.byteOffset, rxResults.length / 4);
    this.slotSize = rxData.length / (this.results.length / RESULT_FIELDS);
  }

  static open(ifname: string, options: OpenOptions = {}): PacketSocket {
    return new PacketSocket(call(() => new addon.PacketSocket(ifname, { ethertype: ETH_P_ALL, ...options })));
  }

  /** Current facts of the interface (re-read on every call). */
  info(): InterfaceInfo {
    return call(() => this.native.info());
  }

  /** The interface's GRO setting (Linux's LRO); with an argument, changes it first. */
  gro(enabled?: boolean): boolean {
    return call(() => (enabled === undefined ? this.native.gro() : this.native.gro(enabled)));
  }

  stats(): SocketStats {
    return this.native.stats();
  }

  /** Sends one complete Ethernet frame (no FCS). */
  send(frame: Uint8Array): void {
    call(() => this.native.send(frame));
  }

  /** Sends frames[0..count) with sendmmsg; returns how many were sent. */
  sendBatch(frames: readonly Uint8Array[], count = frames.length): number {
    return call(() => this.native.sendBatch(frames, count));
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

  /** RxFlag bits of frame `index` of the last recvBatch. */
  rxFlags(index: number): number {
    return this.results[RESULT_FIELDS * index + 2] ?? 0;
  }

  /** Calls `callback` from the event loop whenever frames wait to be received. */
  onReadable(callback: () => void): void {
    this.native.watch(callback);
  }

  stopWatching(): void {
    this.native.unwatch();
  }

  close(): void {
    this.native.close();
  }
}
