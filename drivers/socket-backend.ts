/**
 * What the AF_PACKET and pcap backends share: both are a FrameBackend over
 * one of the addon's frame sockets, which offer the same calls.
 */
import type { PacketSocket, PcapSocket } from '../native/index.js';
import type { FrameBackend } from './backend.js';
import type { FrameInput, InterfaceFacts } from './driver.js';

export abstract class SocketBackend<Socket extends PacketSocket | PcapSocket> implements FrameBackend {
  protected readonly socket: Socket;

  protected constructor(socket: Socket) {
    this.socket = socket;
  }

  facts(): InterfaceFacts {
    const info = this.socket.info();
    const { name, mac, mtu, up, running, rxQueues, maxRxQueues } = info;
    return { name, mac, mtu, up, running, linuxDriver: info.driver, rxQueues, maxRxQueues };
  }

  link(): number {
    return this.socket.link();
  }

  /** The interface's GRO setting; with an argument, changes it first. */
  gro(enabled?: boolean): boolean {
    return this.socket.gro(enabled);
  }

  abstract queue(frame: Uint8Array): void;
  abstract flush(): void;

  /** Receives up to `max` waiting frames without blocking, handing each to `input`. */
  receive(max: number, input: FrameInput): number {
    return this.socket.receive(max, input);
  }

  close(): void {
    this.socket.close();
  }
}
