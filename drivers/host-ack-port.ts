/**
 * The host kernel's side of the dump interface. If the client's address is
 * also configured in Linux, Linux would answer every ack with ICMP port
 * unreachable (nothing listens on the ack port there), and netdumpd ends a
 * client on such an error: while the dump runs, a socket holds the port.
 * Whether Linux has the address is the caller's to find out (src/net).
 *
 * Linux still takes in every ack, on the CPU of whoever sent it: over a
 * veth, the server's. Once the server's port is known the socket connects
 * to it, so that Linux finds it by its early demultiplexing, with the input
 * route it caches, instead of looking the route up for each ack (2 % of a C
 * server's CPU in a perf profile here). Connected, it no longer absorbs what
 * others send to the port: Linux answers them with ICMP port unreachable,
 * as it would any host.
 */
import { UdpSocket } from '../native/index.js';

export class HeldHostPort {
  private readonly socket: UdpSocket;

  /** Holds `address`:`port` in Linux (inside `netns`) until close(). */
  constructor(address: string, port: number, netns?: string) {
    this.socket = new UdpSocket({ netns, rxSlots: 1, slotSize: 64 });
    try {
      this.socket.bind(address, port);
    } catch (error) {
      this.socket.close();
      throw error;
    }
  }

  /**
   * Takes only what `server`:`port` sends from now on: the acks. Returns
   * false, holding the port as before, if Linux cannot connect to it (it has
   * no route to the server: the dump's interface may be all it has there).
   */
  serverFound(server: string, port: number): boolean {
    try {
      this.socket.connect(server, port);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.socket.close();
  }
}
