/**
 * The pcap backend: frames in and out of a Linux interface through libpcap,
 * built into the native addon (not promiscuous, immediate mode, incoming
 * frames only). An alternative to AF_PACKET for comparison and for systems
 * where libpcap is the sanctioned way onto the wire.
 */
import { PcapSocket, type PcapOpenOptions } from '../native/index.js';
import { MAX_POLL_FRAMES } from './backend.js';
import { SocketBackend } from './socket-backend.js';

/** Sends with pcap_inject and receives with pcap_dispatch; GRO goes through ethtool, beside libpcap. */
export class PcapBackend extends SocketBackend<PcapSocket> {
  /** Throws NetdumpError ENOSYS if the addon was built without libpcap. */
  constructor(iface: string, options: Pick<PcapOpenOptions, 'netns'> = {}) {
    super(PcapSocket.open(iface, { ...options, rxSlots: MAX_POLL_FRAMES }));
  }

  /** libpcap has no batched send: each frame goes out at once, so the doorbell has nothing left to do. */
  queue(frame: Uint8Array): void {
    this.socket.send(frame);
  }

  flush(): void {}
}
