/** PacketSocket: raw Ethernet frames in and out of one interface (AF_PACKET). */
import { addon, asNetdumpError, call, type NativePacketSocket } from './addon.js';
import { FrameSocket } from './frame-socket.js';
import type { OpenOptions, SocketStats } from './socket-types.js';

export type { InterfaceInfo, OpenOptions, SocketStats } from './socket-types.js';

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

  /**
   * Takes a copy of one frame to send at the next flush(), as a NIC's TX
   * ring takes a descriptor before its doorbell rings; a full queue (64
   * frames) is flushed first. Called per packet: no closure, unlike call().
   */
  queue(frame: Uint8Array): void {
    try {
      this.native.queue(frame);
    } catch (error) {
      throw asNetdumpError(error);
    }
  }

  /** Sends every queued frame with one sendmmsg; returns how many. */
  flush(): number {
    try {
      return this.native.flush();
    } catch (error) {
      throw asNetdumpError(error);
    }
  }

  /** Calls `callback` from the event loop whenever frames wait to be received. */
  onReadable(callback: () => void): void {
    this.native.watch(callback);
  }

  stopWatching(): void {
    this.native.unwatch();
  }
}
