/**
 * A capture taken on the server's link, decoded into what a netdump
 * session consists of: ARP frames, the client's netdump messages (with
 * every header field kept raw, so tests can check them against spec §2),
 * and the server's acks, each with its place and time in the capture.
 */
import type { TestHosts } from '../../scripts/lib/testhosts.js';
import {
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  formatIpv4Address,
  formatMac,
  parseArp,
  readU16BE,
  readU32BE,
  type ArpRepr,
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

function readUdp(frame: Buffer, index: number, timeUs: number, frameLength: number): CapturedUdp | undefined {
  if (frame.length < ETHERNET_HEADER_SIZE + 28 || readU16BE(frame, 12) !== ETHERTYPE_IPV4) return undefined;
  const ip = frame.subarray(ETHERNET_HEADER_SIZE);
  const headerLength = (ip[0]! & 0x0f) * 4;
  if (ip[9] !== 17) return undefined;
  const totalLength = readU16BE(ip, 2);
  const datagram = ip.subarray(headerLength, totalLength);
  const udpLength = readU16BE(datagram, 4);
  return {
    index,
    timeUs,
    frame,
    frameLength,
    dstMac: formatMac(frame.subarray(0, 6)),
    srcMac: formatMac(frame.subarray(6, 12)),
    etherType: readU16BE(frame, 12),
    ipHeader: ip.subarray(0, headerLength),
    versionIhl: ip[0]!,
    tos: ip[1]!,
    totalLength,
    id: readU16BE(ip, 4),
    flagsFragment: readU16BE(ip, 6),
    ttl: ip[8]!,
    protocol: ip[9],
    ipChecksum: readU16BE(ip, 10),
    srcIp: formatIpv4Address(readU32BE(ip, 12)),
    dstIp: formatIpv4Address(readU32BE(ip, 16)),
    srcPort: readU16BE(datagram, 0),
    dstPort: readU16BE(datagram, 2),
    udpLength,
    udpChecksum: readU16BE(datagram, 6),
    payload: datagram.subarray(8, udpLength),
    datagram: datagram.subarray(0, udpLength),
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
    if (frame.length >= ETHERNET_HEADER_SIZE && readU16BE(frame, 12) === ETHERTYPE_ARP) {
      const arp: CapturedArp = {
        index,
        timeUs: record.timeUs,
        dstMac: formatMac(frame.subarray(0, 6)),
        srcMac: formatMac(frame.subarray(6, 12)),
        frame,
        arp: parseArp(frame.subarray(ETHERNET_HEADER_SIZE)),
      };
      session.arps.push(arp);
      session.all.push(arp);
      return;
    }
    const udp = readUdp(frame, index, record.timeUs, record.originalLength);
    if (udp === undefined) return;
    if (udp.srcIp === hosts.client.ip && udp.dstIp === hosts.server.ip && udp.payload.length >= 24) {
      const message: CapturedMessage = {
        ...udp,
        type: udp.payload.readUInt32BE(0),
        seq: udp.payload.readUInt32BE(4),
        offset: udp.payload.readBigUInt64BE(8),
        len: udp.payload.readUInt32BE(16),
        aux2: udp.payload.readUInt32BE(20),
        data: udp.payload.subarray(24),
      };
      session.messages.push(message);
      session.all.push(message);
    } else if (udp.srcIp === hosts.server.ip && udp.dstIp === hosts.client.ip && udp.payload.length >= 4) {
      const ack: CapturedAck = { ...udp, ackSeq: udp.payload.readUInt32BE(0) };
      session.acks.push(ack);
      session.all.push(ack);
    }
  });
  return session;
}

/** Whether the capture holds the server's ack of the client's FINISHED: the session's last frame. */
export function holdsFinishedAck(pcap: Pcap, hosts: TestHosts): boolean {
  const session = parseCapture(pcap, hosts);
  const finished = session.messages.find((message) => message.type === 2);
  return finished !== undefined && session.acks.some((ack) => ack.ackSeq === finished.seq && ack.index > finished.index);
}
