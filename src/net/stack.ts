/**
 * The minimal stack a panicking kernel runs on its dump NIC: the receive
 * filter (spec §3.5), ARP input (§3.2), the ack path with the server-port
 * latch (§3.3), and IPv4/UDP output with the kernel's field values (§2).
 */
import { RxFlag, type FrameInput, type NetdumpDriver } from '../../drivers/driver.js';
import {
  ARP_FRAME_SIZE,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  BROADCAST_MAC,
  emitArpReplyFrame,
  emitArpRequestFrame,
  ETHERNET_HEADER_SIZE,
  ethernetDstIs,
  ethernetEtherType,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  formatIpv4Address,
  formatMac,
  IPPROTO_UDP,
  ipv4Dst,
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  ipv4Version,
  IPV4_HEADER_SIZE,
  macEquals,
  NETDUMP_ACK_SIZE,
  NETDUMP_ACKPORT,
  NETDUMP_PORT,
  netdumpAckSeqno,
  parseArp,
  UDP_HEADER_SIZE,
  udpDstPort,
  udpLength,
  udpSrcPort,
} from '../wire/index.js';
import { NetdumpError } from '../../errors/index.js';
import { DRIVER_POLL_COUNT, POLL_DELAY_US, type Delay, type NetBehaviour } from './behaviour.js';
import { DumpZones, MBUFS_PER_PACKET } from './dump-zones.js';
import { UdpFramer } from './udp-frame.js';

export interface NetConfig {
  clientIp: number;
  serverIp: number;
  /** 0 when there is none. */
  gatewayIp: number;
  mac: Uint8Array;
  mtu: number;
}

export interface StackOptions {
  behaviour: NetBehaviour;
  /** The kernel's DELAY(), for the wait step between polls. */
  delay: Delay;
  /** The kernel's printf. */
  print: (text: string) => void;
  /** net.netdump.debug: explain every dropped frame. */
  debug: boolean;
}

export class NetStack {
  /** The next hop's MAC (server or gateway), once ARP found it. */
  nextHopMac: Uint8Array | undefined;
  /** Where messages go: 20023 until the first ack, then the ack's source port. */
  serverPort = NETDUMP_PORT;
  /** Called for every accepted ack with its sequence number. */
  onAck: (seqno: number) => void = () => undefined;
  private portLatched = false;
  private readonly arpFrame = new Uint8Array(ARP_FRAME_SIZE);
  /** Headers for the current next hop and server port, rebuilt when either changes. */
  private framer: UdpFramer;
  readonly input: FrameInput = (frame, flags) => this.receiveFrame(frame, flags);

  constructor(
    private readonly driver: NetdumpDriver,
    readonly config: NetConfig,
    private readonly options: StackOptions,
    /** The dump's mbuf zones, sized from the driver's init(). */
    readonly zones: DumpZones,
  ) {
    this.framer = new UdpFramer({
      srcMac: config.mac,
      dstMac: BROADCAST_MAC,
      srcIp: config.clientIp,
      dstIp: config.serverIp,
      srcPort: NETDUMP_ACKPORT,
      dstPort: NETDUMP_PORT,
    });
  }

  /** One driver poll, as netdump_network_poll: frames go through our input path. */
  poll(): number {
    const received = this.driver.poll(DRIVER_POLL_COUNT, this.input);
    this.zones.reclaimTransmits();
    return received;
  }

  /** The step both wait loops (ARP and the send loop) repeat: poll the NIC, then DELAY(500). */
  pollAndWait(): void {
    this.poll();
    this.options.delay(POLL_DELAY_US);
  }

  sendArpRequest(targetIp: number): void {
    emitArpRequestFrame({ senderMac: this.config.mac, senderIp: this.config.clientIp, targetIp }, this.arpFrame);
    this.transmitWithMbufs(this.arpFrame, 1);
  }

  /**
   * Writes the Ethernet/IPv4/UDP headers in front of a message already at
   * UDP_PAYLOAD_OFFSET of `frame` and returns the frame's length; the
   * kernel refuses (ENOBUFS) what exceeds the MTU.
   */
  frameMessage(frame: Uint8Array, messageLength: number): number {
    const ipLength = IPV4_HEADER_SIZE + UDP_HEADER_SIZE + messageLength;
    if (ipLength > this.config.mtu) {
      this.options.print(`netdump_udp_output: Packet is too big: ${ipLength} > MTU ${this.config.mtu}\n`);
      throw new NetdumpError('ENOBUFS', `packet of ${ipLength} bytes exceeds the MTU ${this.config.mtu}`);
    }
    const dstMac = this.nextHopMac ?? BROADCAST_MAC;
    if (this.framer.addressing.dstMac !== dstMac || this.framer.addressing.dstPort !== this.serverPort) {
      this.framer = new UdpFramer({ ...this.framer.addressing, dstMac, dstPort: this.serverPort });
    }
    return this.framer.frame(frame, messageLength);
  }

  /** Transmits a netdump packet, which holds its two mbufs until the next poll. */
  transmit(frame: Uint8Array): void {
    this.transmitWithMbufs(frame, MBUFS_PER_PACKET);
  }

  private transmitWithMbufs(frame: Uint8Array, mbufs: number): void {
    try {
      this.zones.takeForTransmit(mbufs);
    } catch (error) {
      this.options.print(`${this.options.behaviour.subsystem}_send: Out of mbufs\n`);
      throw error;
    }
    this.driver.transmit(frame);
  }

  private debug(message: string): void {
    if (this.options.debug) this.options.print(`netdump: ${message}\n`);
  }

  private receiveFrame(frame: Uint8Array, flags: number): void {
    if (frame.length < ETHERNET_HEADER_SIZE) return this.debug('discard frame without leading eth header');
    const etherType = ethernetEtherType(frame);
    if ((flags & RxFlag.VlanTagged) !== 0 || etherType === ETHERTYPE_VLAN) return this.debug('ignoring vlan packets');
    if (!ethernetDstIs(frame, this.config.mac)) {
      const broadcastArp = etherType === ETHERTYPE_ARP && ethernetDstIs(frame, BROADCAST_MAC);
      if (!(broadcastArp && this.options.behaviour.acceptBroadcastArp)) {
        return this.debug('discard frame with incorrect destination addr');
      }
    }
    if (etherType === ETHERTYPE_ARP) return this.receiveArp(frame.subarray(ETHERNET_HEADER_SIZE));
    if (etherType === ETHERTYPE_IPV4) return this.receiveIpv4(frame, ETHERNET_HEADER_SIZE);
    this.debug(`dropping unknown ethertype ${etherType}`);
  }

  private receiveArp(packet: Uint8Array): void {
    let arp;
    try {
      arp = parseArp(packet);
    } catch (error) {
      return this.debug(`ignoring ARP: ${(error as Error).message}`);
    }
    if (macEquals(arp.senderMac, this.config.mac)) return this.debug('ignoring ARP from myself');
    if (arp.senderIp === this.config.clientIp) {
      this.options.print(`netdump_handle_arp: ${formatMac(arp.senderMac)} is using my IP address ${formatIpv4Address(arp.senderIp)}!\n`);
      return;
    }
    if (macEquals(arp.senderMac, BROADCAST_MAC)) return this.debug('ignoring ARP from broadcast address');
    if (arp.op === ARP_OP_REPLY) return this.acceptArpReply(arp.senderIp, arp.senderMac);
    if (arp.op !== ARP_OP_REQUEST || arp.targetIp !== this.config.clientIp) return this.debug('ignoring ARP not to our IP');
    emitArpReplyFrame(
      { senderMac: this.config.mac, senderIp: this.config.clientIp, targetMac: arp.senderMac, targetIp: arp.senderIp },
      this.arpFrame,
    );
    this.driver.transmit(this.arpFrame); // the request's own mbuf, turned around in place
  }

  private acceptArpReply(senderIp: number, senderMac: Uint8Array): void {
    if (senderIp !== this.config.gatewayIp && senderIp !== this.config.serverIp) {
      return this.debug(`ignoring ARP reply from ${formatIpv4Address(senderIp)} (not netdump server)`);
    }
    if (this.nextHopMac !== undefined && !this.options.behaviour.arpRepliesAnyTime) {
      return this.debug(`ignoring server ARP reply from ${formatIpv4Address(senderIp)} (already have gateway address)`);
    }
    this.nextHopMac = Uint8Array.from(senderMac);
    this.debug(`got server MAC address ${formatMac(senderMac)}`);
  }

  /**
   * The checks of netdump_handle_ip / debugnet_handle_ip, in their order, on
   * the IPv4 packet at `ip` in the frame (offsets, not views: this runs for every ack).
   */
  private receiveIpv4(frame: Uint8Array, ip: number): void {
    if (this.options.behaviour.ipNeedsNextHop && this.nextHopMac === undefined) return this.debug('ignoring IP before ARP is done');
    const available = frame.length - ip;
    if (available < IPV4_HEADER_SIZE) return this.debug('dropping packet too small for IP header');
    const version = ipv4Version(frame, ip);
    if (version !== 4) return this.debug(`bad IP version ${version}`);
    const headerLength = ipv4HeaderLength(frame, ip);
    if (headerLength < IPV4_HEADER_SIZE) return this.debug(`bad IP header length (${headerLength})`);
    if (headerLength > IPV4_HEADER_SIZE) return this.debug('drop packet with IP options');
    const totalLength = ipv4TotalLength(frame, ip);
    if (totalLength < headerLength) return this.debug(`IP packet smaller (${totalLength}) than header (${headerLength})`);
    if (available < totalLength) return this.debug(`IP packet bigger (${totalLength}) than ethernet packet (${available})`);
    if (ipv4Src(frame, ip) !== this.config.serverIp) return this.debug('drop packet not from server');
    if (ipv4Dst(frame, ip) !== this.config.clientIp) return this.debug('drop packet not to our IP');
    if (ipv4Protocol(frame, ip) !== IPPROTO_UDP) return this.debug('drop non-UDP packet');
    if (ipv4IsFragment(frame, ip)) return this.debug('drop fragmented packet');
    // Checksums are not verified in software: the kernel honours only a NIC's
    // verdict, and Linux hands AF_PACKET no frame it found bad.
    this.receiveUdp(frame, ip + IPV4_HEADER_SIZE, ip + totalLength);
  }

  /** The UDP datagram in frame[udp, end). */
  private receiveUdp(frame: Uint8Array, udp: number, end: number): void {
    const available = end - udp;
    if (available < UDP_HEADER_SIZE + (this.options.behaviour.ackExactlyFourBytes ? 0 : NETDUMP_ACK_SIZE)) {
      return this.debug('ignoring small packet');
    }
    if (udpDstPort(frame, udp) !== NETDUMP_ACKPORT) return this.debug('not on the netdump port.');
    const sourcePort = udpSrcPort(frame, udp);
    if (this.options.behaviour.ackExactlyFourBytes) {
      const ackLength = udpLength(frame, udp) - UDP_HEADER_SIZE;
      if (available < ackLength + UDP_HEADER_SIZE) return this.debug('ignoring runt UDP packet');
      if (ackLength !== NETDUMP_ACK_SIZE) {
        return this.debug(
          ackLength < NETDUMP_ACK_SIZE ? 'ignoring small ACK packet' : 'ignoring unexpected non-ACK packet on half-duplex connection.',
        );
      }
    }
    this.latchServerPort(sourcePort);
    this.onAck(netdumpAckSeqno(frame, udp + UDP_HEADER_SIZE));
  }

  private latchServerPort(sourcePort: number): void {
    if (this.options.behaviour.latchPortOnFirstAckOnly) {
      if (!this.portLatched) this.serverPort = sourcePort;
    } else if (this.serverPort === NETDUMP_PORT) {
      this.serverPort = sourcePort;
    }
    this.portLatched = true;
  }
}
