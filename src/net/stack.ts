/**
 * The minimal stack a panicking kernel runs on its dump NIC: the receive
 * filter (spec §3.5), ARP input (§3.2), the ack path with the server-port
 * latch (§3.3), and IPv4/UDP output with the kernel's field values (§2).
 */
import type { FrameInput, NetdumpDriver } from '../../drivers/driver.js';
import { RxFlag } from '../../native/index.js';
import type { Profile } from '../client/profile.js';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  BROADCAST_MAC,
  emitArpReplyFrame,
  emitArpRequestFrame,
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  formatIpv4Address,
  formatMac,
  IPPROTO_UDP,
  macEquals,
  macEqualsAt,
  NETDUMP_ACKPORT,
  NETDUMP_PORT,
  parseArp,
  readU16BE,
  readU32BE,
  WireError,
} from '../wire/index.js';
import { DumpZones, MBUFS_PER_PACKET } from './dump-zones.js';
import { emitUdpFrameHeaders, type UdpFrameAddressing } from './udp-frame.js';

export interface NetConfig {
  clientIp: number;
  serverIp: number;
  /** 0 when there is none. */
  gatewayIp: number;
  mac: Uint8Array;
  mtu: number;
}

export interface StackOptions {
  profile: Profile;
  /** The kernel's printf. */
  print: (text: string) => void;
  /** net.netdump.debug: explain every dropped frame. */
  debug: boolean;
}

const IP_HEADER = 20;
const UDP_HEADER = 8;
const ACK_SIZE = 4;
const IP_FLAG_MORE_FRAGMENTS = 0x2000;
const IP_FRAGMENT_OFFSET_MASK = 0x1fff;

export class NetStack {
  /** The next hop's MAC (server or gateway), once ARP found it. */
  nextHopMac: Uint8Array | undefined;
  /** Where messages go: 20023 until the first ack, then the ack's source port. */
  serverPort = NETDUMP_PORT;
  /** Called for every accepted ack with its sequence number. */
  onAck: (seqno: number) => void = () => undefined;
  private portLatched = false;
  private readonly arpFrame = new Uint8Array(42);
  private readonly addressing: UdpFrameAddressing;
  readonly input: FrameInput = (frame, flags) => this.receiveFrame(frame, flags);

  constructor(
    private readonly driver: NetdumpDriver,
    readonly config: NetConfig,
    private readonly options: StackOptions,
    /** The dump's mbuf zones, sized from the driver's init(). */
    readonly zones: DumpZones = new DumpZones(driver.init()),
  ) {
    this.addressing = {
      srcMac: config.mac,
      dstMac: BROADCAST_MAC,
      srcIp: config.clientIp,
      dstIp: config.serverIp,
      srcPort: NETDUMP_ACKPORT,
      dstPort: NETDUMP_PORT,
    };
  }

  /** One driver poll, as netdump_network_poll: count 1000, frames go through our input path. */
  poll(): number {
    const received = this.driver.poll(1000, this.input);
    this.zones.reclaimTransmits();
    return received;
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
    const ipLength = IP_HEADER + UDP_HEADER + messageLength;
    if (ipLength > this.config.mtu) {
      this.options.print(`netdump_udp_output: Packet is too big: ${ipLength} > MTU ${this.config.mtu}\n`);
      throw new WireError('udp', 'range', `packet of ${ipLength} bytes exceeds the MTU ${this.config.mtu}`);
    }
    this.addressing.dstMac = this.nextHopMac ?? BROADCAST_MAC;
    this.addressing.dstPort = this.serverPort;
    return emitUdpFrameHeaders(this.addressing, frame, messageLength);
  }

  /** Transmits a netdump packet, which holds its two mbufs until the next poll. */
  transmit(frame: Uint8Array): void {
    this.transmitWithMbufs(frame, MBUFS_PER_PACKET);
  }

  private transmitWithMbufs(frame: Uint8Array, mbufs: number): void {
    try {
      this.zones.takeForTransmit(mbufs);
    } catch (error) {
      this.options.print(`${this.options.profile.name === 'freebsd12' ? 'netdump_send' : 'debugnet_send'}: Out of mbufs\n`);
      throw error;
    }
    this.driver.transmit(frame);
  }

  private debug(message: string): void {
    if (this.options.debug) this.options.print(`netdump: ${message}\n`);
  }

  private receiveFrame(frame: Uint8Array, flags: number): void {
    if (frame.length < ETHERNET_HEADER_SIZE) return this.debug('discard frame without leading eth header');
    const etherType = readU16BE(frame, 12);
    if ((flags & RxFlag.VlanTagged) !== 0 || etherType === ETHERTYPE_VLAN) return this.debug('ignoring vlan packets');
    if (!macEqualsAt(frame, 0, this.config.mac)) {
      const broadcastArp = etherType === ETHERTYPE_ARP && macEqualsAt(frame, 0, BROADCAST_MAC);
      if (!(broadcastArp && this.options.profile.acceptBroadcastArp)) {
        return this.debug('discard frame with incorrect destination addr');
      }
    }
    const packet = frame.subarray(ETHERNET_HEADER_SIZE);
    if (etherType === ETHERTYPE_ARP) return this.receiveArp(packet);
    if (etherType === ETHERTYPE_IPV4) return this.receiveIpv4(packet);
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
    if (this.nextHopMac !== undefined && !this.options.profile.arpRepliesAnyTime) {
      return this.debug(`ignoring server ARP reply from ${formatIpv4Address(senderIp)} (already have gateway address)`);
    }
    this.nextHopMac = Uint8Array.from(senderMac);
    this.debug(`got server MAC address ${formatMac(senderMac)}`);
  }

  /** The checks of netdump_handle_ip / debugnet_handle_ip, in their order. */
  private receiveIpv4(packet: Uint8Array): void {
    if (this.options.profile.ipNeedsNextHop && this.nextHopMac === undefined) return this.debug('ignoring IP before ARP is done');
    if (packet.length < IP_HEADER) return this.debug('dropping packet too small for IP header');
    const versionAndLength = packet[0]!;
    if (versionAndLength >> 4 !== 4) return this.debug(`bad IP version ${versionAndLength >> 4}`);
    const headerLength = (versionAndLength & 0x0f) * 4;
    if (headerLength < IP_HEADER) return this.debug(`bad IP header length (${headerLength})`);
    if (headerLength > IP_HEADER) return this.debug('drop packet with IP options');
    const totalLength = readU16BE(packet, 2);
    if (totalLength < headerLength) return this.debug(`IP packet smaller (${totalLength}) than header (${headerLength})`);
    if (packet.length < totalLength) return this.debug(`IP packet bigger (${totalLength}) than ethernet packet (${packet.length})`);
    if (readU32BE(packet, 12) !== this.config.serverIp) return this.debug('drop packet not from server');
    if (readU32BE(packet, 16) !== this.config.clientIp) return this.debug('drop packet not to our IP');
    if (packet[9] !== IPPROTO_UDP) return this.debug('drop non-UDP packet');
    if ((readU16BE(packet, 6) & (IP_FLAG_MORE_FRAGMENTS | IP_FRAGMENT_OFFSET_MASK)) !== 0) return this.debug('drop fragmented packet');
    // Checksums are not verified in software: the kernel honours only a NIC's
    // verdict, and Linux hands AF_PACKET no frame it found bad.
    this.receiveUdp(packet.subarray(IP_HEADER, totalLength));
  }

  private receiveUdp(datagram: Uint8Array): void {
    if (datagram.length < UDP_HEADER + (this.options.profile.ackExactlyFourBytes ? 0 : ACK_SIZE)) {
      return this.debug('ignoring small packet');
    }
    if (readU16BE(datagram, 2) !== NETDUMP_ACKPORT) return this.debug('not on the netdump port.');
    const sourcePort = readU16BE(datagram, 0);
    if (this.options.profile.ackExactlyFourBytes) {
      const udpLength = readU16BE(datagram, 4);
      if (datagram.length < udpLength) return this.debug('ignoring runt UDP packet');
      if (udpLength - UDP_HEADER !== ACK_SIZE) {
        return this.debug(udpLength - UDP_HEADER < ACK_SIZE ? 'ignoring small ACK packet' : 'ignoring unexpected non-ACK packet on half-duplex connection.');
      }
    }
    this.latchServerPort(sourcePort);
    this.onAck(readU32BE(datagram, UDP_HEADER));
  }

  private latchServerPort(sourcePort: number): void {
    if (this.options.profile.latchPortOnFirstAckOnly) {
      if (!this.portLatched) this.serverPort = sourcePort;
    } else if (this.serverPort === NETDUMP_PORT) {
      this.serverPort = sourcePort;
    }
    this.portLatched = true;
  }
}

