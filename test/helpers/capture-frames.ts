/**
 * A capture taken on the server's link, decoded into what a netdump
 * session consists of: ARP frames, the client's netdump messages (with
 * every header field kept raw, so tests can check them against spec §2),
 * and the server's acks, each with its place and time in the capture.
 */
import type { TestHosts } from '../../scripts/lib/testhosts.js';
import {
  type ArpRepr,
  ETHERNET_DST_OFFSET,
  ETHERNET_HEADER_SIZE,
  ETHERNET_SRC_OFFSET,
  ethernetEtherType,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  formatIpv4Address,
  formatMac,
  FRAME_IPV4_AT,
  FRAME_UDP_AT,
  IPPROTO_UDP,
  IPV4_VERSION_IHL_OFFSET,
  ipv4Checksum,
  ipv4Dst,
  ipv4FlagsFragment,
  ipv4HeaderLength,
  ipv4Id,
  ipv4Protocol,
  ipv4Src,
  ipv4Tos,
  ipv4TotalLength,
  ipv4Ttl,
  NETDUMP_ACK_SIZE,
  NETDUMP_FINISHED,
  NETDUMP_HEADER_SIZE,
  netdumpAckSeqno,
  netdumpAux2,
  netdumpLen,
  netdumpOffset64,
  netdumpSeqno,
  netdumpType,
  parseArp,
  readMac,
  readU8,
  UDP_HEADER_SIZE,
  udpChecksum,
  udpDstPort,
  udpLength,
  udpSrcPort,
} from '../../src/wire/index.js';
import { LINKTYPE_ETHERNET, type Pcap } from './pcap.js';

export interface CapturedArp {
  index: number;
  timeUs: number;
  dstMac: string;
  srcMac: string;
  /** Bytes of the frame as captured (a sender's frame is not yet padded to 60 on veth). */
  frame: Buffer;
  arp: ArpRepr;
}

/** The fields of an IPv4/UDP frame, read raw. */
export interface CapturedUdp {
  index: number;
  timeUs: number;
  frame: Buffer;
  frameLength: number;
  dstMac: string;
  srcMac: string;
  etherType: number;
  /** The IPv4 header's 20 bytes (or more, if it has options). */
  ipHeader: Buffer;
  versionIhl: number;
  tos: number;
  totalLength: number;
  id: number;
  flagsFragment: number;
  ttl: number;
  protocol: number;
  ipChecksum: number;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  udpLength: number;
  udpChecksum: number;
  /** UDP payload: [8, udpLength) of the datagram. */
  payload: Buffer;
  /** The datagram (UDP header and payload), for checksum checks. */
  datagram: Buffer;
}

export interface CapturedMessage extends CapturedUdp {
  type: number;
  seq: number;
  offset: bigint;
  len: number;
  aux2: number;
  /** The bytes after the 24-byte netdump header. */
  data: Buffer;
}

export interface CapturedAck extends CapturedUdp {
  ackSeq: number;
}

export interface Session {
  arps: CapturedArp[];
  /** Client → server netdump messages, in capture order. */
  messages: CapturedMessage[];
  /** Server → client acks, in capture order. */
  acks: CapturedAck[];
  /** Every decoded frame, in capture order. */
  all: Array<CapturedArp | CapturedMessage | CapturedAck>;
}

function macsOf(frame: Buffer): { dstMac: string; srcMac: string } {
  return { dstMac: formatMac(readMac(frame, ETHERNET_DST_OFFSET)), srcMac: formatMac(readMac(frame, ETHERNET_SRC_OFFSET)) };
}

function readUdp(frame: Buffer, index: number, timeUs: number, frameLength: number): CapturedUdp | undefined {
  if (frame.length < FRAME_UDP_AT + UDP_HEADER_SIZE || ethernetEtherType(frame) !== ETHERTYPE_IPV4) return undefined;
  const ip = frame.subarray(FRAME_IPV4_AT);
  const headerLength = ipv4HeaderLength(ip);
  if (ipv4Protocol(ip) !== IPPROTO_UDP) return undefined;
  const totalLength = ipv4TotalLength(ip);
  const datagram = ip.subarray(headerLength, totalLength);
  const datagramLength = udpLength(datagram);
  return {
    index,
    timeUs,
    frame,
    frameLength,
    ...macsOf(frame),
    etherType: ethernetEtherType(frame),
    ipHeader: ip.subarray(0, headerLength),
    versionIhl: readU8(ip, IPV4_VERSION_IHL_OFFSET),
    tos: ipv4Tos(ip),
    totalLength,
    id: ipv4Id(ip),
    flagsFragment: ipv4FlagsFragment(ip),
    ttl: ipv4Ttl(ip),
    protocol: ipv4Protocol(ip),
    ipChecksum: ipv4Checksum(ip),
    srcIp: formatIpv4Address(ipv4Src(ip)),
    dstIp: formatIpv4Address(ipv4Dst(ip)),
    srcPort: udpSrcPort(datagram),
    dstPort: udpDstPort(datagram),
    udpLength: datagramLength,
    udpChecksum: udpChecksum(datagram),
    payload: datagram.subarray(UDP_HEADER_SIZE, datagramLength),
    datagram: datagram.subarray(0, datagramLength),
  };
}

/** Decodes a capture of a session between the client and server of `hosts`. */
export function parseCapture(pcap: Pcap, hosts: TestHosts): Session {
  if (pcap.linkType !== LINKTYPE_ETHERNET) throw new Error(`capture link type ${pcap.linkType} is not Ethernet`);
  const session: Session = { arps: [], messages: [], acks: [], all: [] };
  pcap.records.forEach((record, index) => {
    const frame = record.data;
    if (record.originalLength !== frame.length)
      throw new Error(`capture record ${index} was truncated (${frame.length} of ${record.originalLength})`);
    if (frame.length >= ETHERNET_HEADER_SIZE && ethernetEtherType(frame) === ETHERTYPE_ARP) {
      const arp: CapturedArp = {
        index,
        timeUs: record.timeUs,
        ...macsOf(frame),
        frame,
        arp: parseArp(frame.subarray(ETHERNET_HEADER_SIZE)),
      };
      session.arps.push(arp);
      session.all.push(arp);
      return;
    }
    const udp = readUdp(frame, index, record.timeUs, record.originalLength);
    if (udp === undefined) return;
    if (udp.srcIp === hosts.client.ip && udp.dstIp === hosts.server.ip && udp.payload.length >= NETDUMP_HEADER_SIZE) {
      const message: CapturedMessage = {
        ...udp,
        type: netdumpType(udp.payload),
        seq: netdumpSeqno(udp.payload),
        offset: netdumpOffset64(udp.payload),
        len: netdumpLen(udp.payload),
        aux2: netdumpAux2(udp.payload),
        data: udp.payload.subarray(NETDUMP_HEADER_SIZE),
      };
      session.messages.push(message);
      session.all.push(message);
    } else if (udp.srcIp === hosts.server.ip && udp.dstIp === hosts.client.ip && udp.payload.length >= NETDUMP_ACK_SIZE) {
      const ack: CapturedAck = { ...udp, ackSeq: netdumpAckSeqno(udp.payload) };
      session.acks.push(ack);
      session.all.push(ack);
    }
  });
  return session;
}

/** Whether the capture holds the server's ack of the client's FINISHED: the session's last frame. */
export function holdsFinishedAck(pcap: Pcap, hosts: TestHosts): boolean {
  const session = parseCapture(pcap, hosts);
  const finished = session.messages.find((message) => message.type === NETDUMP_FINISHED);
  return finished !== undefined && session.acks.some((ack) => ack.ackSeq === finished.seq && ack.index > finished.index);
}
