/**
 * The plain data that crosses the addon's boundary: what the sockets are
 * opened with and what they report. A leaf, so that the addon's typed face
 * (addon.ts) and the socket classes need not import each other.
 */

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

export interface PcapOpenOptions {
  /** Open the interface inside this network namespace (a name under /var/run/netns, or a path). */
  netns?: string;
  /** Receive slots allocated once; recvBatch returns at most this many frames. Default 256. */
  rxSlots?: number;
  /** libpcap's kernel buffer (pcap_set_buffer_size) in bytes. Default 8 MiB (about 128 frames with offloads on). */
  bufferSize?: number;
}

export interface UdpSocketOptions {
  /** Datagrams one recvBatch can return. Default 64. */
  rxSlots?: number;
  /** Bytes kept of each datagram; longer ones are cut, as recv(2) cuts them. Default 65536. */
  slotSize?: number;
  /** SO_RCVBUF in bytes (Linux doubles it for bookkeeping); the system default if unset. */
  receiveBuffer?: number;
  /** Report each datagram's destination address (IP_PKTINFO). */
  pktinfo?: boolean;
  /** Create the socket inside this network namespace (a name under /var/run/netns, or a path). */
  netns?: string;
}
