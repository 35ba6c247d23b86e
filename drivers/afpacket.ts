/** The AF_PACKET backend: frames in and out of a Linux interface through the native addon. */
import { PacketSocket, type OpenOptions } from '../native/index.js';
import { MAX_POLL_FRAMES } from './backend.js';
import { SocketBackend } from './socket-backend.js';

export class AfPacketBackend extends SocketBackend<PacketSocket> {
  constructor(iface: string, options: Pick<OpenOptions, 'netns'> = {}) {
    // As many receive slots as any shim's poll may reap (vtnet's rx_process_limit).
    super(PacketSocket.open(iface, { ...options, rxSlots: MAX_POLL_FRAMES }));
  }

  /** A copy in the addon's queue; the doorbell sends the queue with one sendmmsg. */
  queue(frame: Uint8Array): void {
    this.socket.queue(frame);
  }

  flush(): void {
    this.socket.flush();
  }
}
