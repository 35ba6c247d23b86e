/**
 * The pcap backend: frames in and out of a Linux interface through libpcap,
 * built into the native addon (not promiscuous, immediate mode, incoming
 * frames only). An alternative to AF_PACKET for comparison and for systems
 * where libpcap is the sanctioned way onto the wire.
 */
import { PcapSocket, type PcapOpenOptions } from '../native/index.js';
import { MAX_POLL_FRAMES, type FrameBackend } from './backend.js';
import type { FrameInput, InterfaceFacts } from './driver.js';

export class PcapBackend implements FrameBackend {
  private readonly socket: PcapSocket;

  /** Throws NetdumpError ENOSYS if the addon was built without libpcap. */
  constructor(iface: string, options: Pick<PcapOpenOptions, 'netns'> = {}) {
    this.socket = PcapSocket.open(iface, { ...options, rxSlots: MAX_POLL_FRAMES });
  }

  facts(): InterfaceFacts {
    const info = this.socket.info();
    return { name: info.name, mac: info.mac, mtu: info.mtu, up: info.up, running: info.running, linuxDriver: info.driver };
  }

  /** The interface's GRO setting (through ethtool, beside libpcap); with an argument, changes it first. */
  gro(enabled?: boolean): boolean {
    return this.socket.gro(enabled);
  }

  /** Sends one frame now with pcap_inject. */
  send(frame: Uint8Array): void {
    this.socket.send(frame);
  }

  /** Receives up to `max` waiting frames without blocking (pcap_dispatch), handing each to `input`. */
  receive(max: number, input: FrameInput): number {
    const frames = this.socket.recvBatch(max);
    for (let i = 0; i < frames.length; i++) input(frames[i]!, this.socket.rxFlags(i));
    return frames.length;
  }

  close(): void {
    this.socket.close();
  }
}
