/**
 * PcapSocket: raw Ethernet frames in and out of one interface through
 * libpcap, built into the addon when libpcap-dev is installed. Opened
 * unpromiscuous, in immediate mode and for incoming frames only. Unlike
 * PacketSocket it cannot open an interface that is down (libpcap refuses).
 */
import { addon, call, type NativePcapSocket } from './addon.js';
import { FrameSocket } from './frame-socket.js';
import type { PcapOpenOptions, SocketStats } from './socket-types.js';

export type { PcapOpenOptions } from './socket-types.js';

/** The libpcap the addon was built with ("libpcap version 1.10.3 ..."), or null if it was built without. */
export const pcapVersion: string | null = addon.pcapVersion;

/**
 * One interface through libpcap: the PacketSocket calls the pcap backend
 * needs. send() goes out with pcap_inject; rxFlags() is always 0 (libpcap
 * does not pass Linux's aux data).
 */
export class PcapSocket extends FrameSocket<NativePcapSocket> {
  private constructor(native: NativePcapSocket) {
    super(native);
  }

  /** Throws NetdumpError ENOSYS if the addon was built without libpcap. */
  static open(ifname: string, options: PcapOpenOptions = {}): PcapSocket {
    return new PcapSocket(call(() => new addon.PcapSocket(ifname, options)));
  }

  /** libpcap's counters since open (pcap_stats); outgoingSkipped is always 0: libpcap drops those itself. */
  stats(): SocketStats {
    return call(() => this.native.stats());
  }

  /** Calls `callback` from the event loop whenever frames wait to be received. */
  onReadable(callback: () => void): void {
    call(() => this.native.watch(callback));
  }

  stopWatching(): void {
    call(() => this.native.unwatch());
  }
}
