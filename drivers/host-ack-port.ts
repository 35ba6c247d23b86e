/**
 * The host kernel's side of the dump interface. If the client's address is
 * also configured in Linux, Linux would answer every ack with ICMP port
 * unreachable (nothing listens on the ack port there), and netdumpd ends a
 * client on such an error: while the dump runs, a socket holds the port.
 * Whether Linux has the address is the caller's to find out (src/net).
 */
import { UdpSocket } from '../native/index.js';

/** A socket holding `address`:`port` in Linux (inside `netns`), to be closed after the dump. */
export function holdHostPort(address: string, port: number, netns?: string): UdpSocket {
  const socket = new UdpSocket({ netns, rxSlots: 1, slotSize: 64 });
  socket.bind(address, port);
  return socket;
}
