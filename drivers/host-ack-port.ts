/**
 * The host kernel's side of the dump interface. If the client's address is
 * also configured in Linux, Linux would answer every ack with ICMP port
 * unreachable (nothing listens on 20024 there), and netdumpd ends a client
 * on such an error: while the dump runs, a socket holds the port.
 */
import { UdpSocket } from '../native/index.js';
import { isLocalAddress } from '../src/net/inference.js';
import { NETDUMP_ACKPORT } from '../src/wire/index.js';

/** The socket holding `address`:20024 in Linux, or undefined when Linux does not have the address. */
export function holdHostAckPort(address: string, netns?: string): UdpSocket | undefined {
  if (!isLocalAddress(address, netns)) return undefined;
  const socket = new UdpSocket({ netns, rxSlots: 1, slotSize: 64 });
  socket.bind(address, NETDUMP_ACKPORT);
  return socket;
}
