/** PacketSocket: raw Ethernet frames in and out of one interface (AF_PACKET). */
import { addon, call, type NativePacketSocket } from './addon.js';
import { FrameSocket } from './frame-socket.js';

export interface InterfaceInfo {
  name: string;
  ifindex: number;
  mac: Buffer;
  mtu: number;
  up: boolean;
  running: boolean;
  /** The Linux driver's name as ethtool reports it ("veth", "virtio_net", "e1000e"), or "". */
  driver: string;
  /** RX queues in use, from ethtool's channels (the larger of RX and combined); 1 when the driver does not report them. */
  rxQueues: number;
  /** The most RX queues the device can have; 1 when the driver does not say. */
  maxRxQueues: number;
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
  /** SO_RCVBUF in bytes, and about the size of the receive ring. Default 4 MiB. */
  receiveBuffer?: number;
  /**
   * Receive through a PACKET_RX_RING shared with the kernel, so a poll makes
   * no system call (default true); false, or a kernel that refuses the
   * ring, receives with recvmmsg.
   */
  receiveRing?: boolean;
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

/** An AF_PACKET socket bound to one interface: raw Ethernet frames in and out. */
export class PacketSocket extends FrameSocket<NativePacketSocket> {
  private constructor(native: NativePacketSocket) {
    super(native);
  }

  static open(ifname: string, options: OpenOptions = {}): PacketSocket {
    return new PacketSocket(call(() => new addon.PacketSocket(ifname, { ethertype: ETH_P_ALL, ...options })));
  }

  /** Whether frames arrive through the receive ring rather than recvmmsg. */
  get receivesFromRing(): boolean {
    return this.native.receivesFromRing;
  }

  stats(): SocketStats {
    return this.native.stats();
  }

  /** Sends frames[0..count) with sendmmsg; returns how many were sent. */
  sendBatch(frames: readonly Uint8Array[], count = frames.length): number {
    return call(() => this.native.sendBatch(frames, count));
  }

  /** Calls `callback` from the event loop whenever frames wait to be received. */
  onReadable(callback: () => void): void {
    this.native.watch(callback);
  }

  stopWatching(): void {
    this.native.unwatch();
  }
}
