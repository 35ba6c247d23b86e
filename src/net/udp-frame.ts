/**
 * Ethernet + IPv4 + UDP framing with the field values the FreeBSD kernel's
 * netdump client uses (spec §2.3, §2.4): TOS 0, ID 0, DF, TTL 255, both
 * checksums computed in software, no IP options, no VLAN tag.
 */
import {
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_IPV4,
  IPPROTO_UDP,
  IPV4_HEADER_SIZE,
  parseEthernet,
  parseIpv4,
  parseUdp,
  finishChecksum,
  ipv4PseudoHeaderSum,
  sumWords,
  UDP_HEADER_SIZE,
  WireError,
  writeU16BE,
  writeU32BE,
  type EthernetFrame,
  type Ipv4Repr,
  type UdpRepr,
} from '../wire/index.js';

export const UDP_PAYLOAD_OFFSET = ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + UDP_HEADER_SIZE;
const KERNEL_TTL = 255;
const IP_DONT_FRAGMENT = 0x4000;

export interface UdpFrameAddressing {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

/**
 * Writes the three headers in front of a payload the caller already placed
 * at UDP_PAYLOAD_OFFSET, so a hot path never copies the payload; returns
 * the frame's length. Fields are written in place, without the validating
 * reprs of src/wire (the addressing is ours, checked once), since this runs
 * for every packet of a dump.
 */
export function emitUdpFrameHeaders(addressing: UdpFrameAddressing, frame: Uint8Array, payloadLength: number): number {
  const udpLength = UDP_HEADER_SIZE + payloadLength;
  const frameLength = UDP_PAYLOAD_OFFSET + payloadLength;
  if (frame.length < frameLength || udpLength > 0xffff - IPV4_HEADER_SIZE) {
    throw new WireError('udp', 'range', `a ${payloadLength}-byte payload does not fit a ${frame.length}-byte frame or an IPv4 packet`);
  }
  frame.set(addressing.dstMac, 0);
  frame.set(addressing.srcMac, 6);
  writeU16BE(frame, 12, ETHERTYPE_IPV4);

  const ip = ETHERNET_HEADER_SIZE;
  writeU16BE(frame, ip, 0x4500); // version 4, 20-byte header, TOS 0
  writeU16BE(frame, ip + 2, IPV4_HEADER_SIZE + udpLength);
  writeU16BE(frame, ip + 4, 0); // ID 0
  writeU16BE(frame, ip + 6, IP_DONT_FRAGMENT);
  frame[ip + 8] = KERNEL_TTL;
  frame[ip + 9] = IPPROTO_UDP;
  writeU32BE(frame, ip + 12, addressing.srcIp);
  writeU32BE(frame, ip + 16, addressing.dstIp);
  writeU16BE(frame, ip + 10, ipv4HeaderChecksum(addressing, IPV4_HEADER_SIZE + udpLength));

  const udp = ip + IPV4_HEADER_SIZE;
  writeU16BE(frame, udp, addressing.srcPort);
  writeU16BE(frame, udp + 2, addressing.dstPort);
  writeU16BE(frame, udp + 4, udpLength);
  writeU16BE(frame, udp + 6, 0);
  const pseudo = ipv4PseudoHeaderSum(addressing.srcIp, addressing.dstIp, IPPROTO_UDP, udpLength);
  const checksum = finishChecksum(sumWords(frame, udp, udp + udpLength, pseudo));
  writeU16BE(frame, udp + 6, checksum === 0 ? 0xffff : checksum); // spec §2.4: a computed 0 goes out as 0xFFFF
  return frameLength;
}

/** The checksum of the header written above, summed from its fields rather than read back. */
function ipv4HeaderChecksum(addressing: UdpFrameAddressing, totalLength: number): number {
  return finishChecksum(ipv4HeaderSumButLength(addressing) + totalLength);
}

function ipv4HeaderSumButLength({ srcIp, dstIp }: UdpFrameAddressing): number {
  const versionLengthTos = 0x4500;
  const ttlProtocol = (KERNEL_TTL << 8) | IPPROTO_UDP;
  return versionLengthTos + IP_DONT_FRAGMENT + ttlProtocol + (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff);
}

/**
 * Frames messages for one addressing from a header built once: per frame,
 * one copy of the 42 header bytes, the two lengths, and the checksums from
 * sums of the constant fields kept aside. The same bytes as
 * emitUdpFrameHeaders, at a third of the work; a dump frames every packet.
 */
export class UdpFramer {
  private readonly header = new Uint8Array(UDP_PAYLOAD_OFFSET);
  private ipSum = 0;
  private pseudoSum = 0;

  constructor(readonly addressing: Readonly<UdpFrameAddressing>) {
    emitUdpFrameHeaders(addressing, this.header, 0);
    this.ipSum = ipv4HeaderSumButLength(addressing);
    // The pseudo-header and the UDP ports; the UDP length counts twice (pseudo-header and header).
    this.pseudoSum = ipv4PseudoHeaderSum(addressing.srcIp, addressing.dstIp, IPPROTO_UDP, 0) + addressing.srcPort + addressing.dstPort;
  }

  /** Writes the headers in front of a payload already at UDP_PAYLOAD_OFFSET; returns the frame's length. */
  frame(frame: Uint8Array, payloadLength: number): number {
    const udpLength = UDP_HEADER_SIZE + payloadLength;
    const frameLength = UDP_PAYLOAD_OFFSET + payloadLength;
    if (frame.length < frameLength || udpLength > 0xffff - IPV4_HEADER_SIZE) {
      throw new WireError('udp', 'range', `a ${payloadLength}-byte payload does not fit a ${frame.length}-byte frame or an IPv4 packet`);
    }
    frame.set(this.header);
    const ip = ETHERNET_HEADER_SIZE;
    const udp = ip + IPV4_HEADER_SIZE;
    const totalLength = IPV4_HEADER_SIZE + udpLength;
    putU16(frame, ip + 2, totalLength);
    putU16(frame, ip + 10, finishChecksum(this.ipSum + totalLength));
    putU16(frame, udp + 4, udpLength);
    const checksum = finishChecksum(sumWords(frame, UDP_PAYLOAD_OFFSET, frameLength, this.pseudoSum + 2 * udpLength));
    putU16(frame, udp + 6, checksum === 0 ? 0xffff : checksum);
    return frameLength;
  }
}

/** A u16 the caller has range-checked: the framer's offsets are constants inside a checked frame. */
function putU16(frame: Uint8Array, at: number, value: number): void {
  frame[at] = value >>> 8;
  frame[at + 1] = value & 0xff;
}

/** Copies the payload into the frame and writes the headers; returns the frame's length. */
export function emitUdpFrame(addressing: UdpFrameAddressing, payload: Uint8Array, frame: Uint8Array): number {
  if (frame.length < UDP_PAYLOAD_OFFSET + payload.length) {
    throw new WireError('udp', 'range', `frame buffer of ${frame.length} bytes cannot hold ${payload.length} payload bytes`);
  }
  frame.set(payload, UDP_PAYLOAD_OFFSET);
  return emitUdpFrameHeaders(addressing, frame, payload.length);
}

export interface UdpFrame {
  ethernet: EthernetFrame;
  ipv4: Ipv4Repr;
  udp: UdpRepr;
  /** A view into the frame, not a copy. */
  payload: Uint8Array;
}

export interface UdpFrameParseOptions {
  /**
   * Default true. Pass false for a frame whose UDP checksum was left to
   * offload by a local sender (RxFlag.ChecksumNotReady): it was never computed.
   */
  verifyUdpChecksum?: boolean;
}

/** Parses an Ethernet frame carrying IPv4/UDP, verifying the checksums. */
export function parseUdpFrame(frame: Uint8Array, options: UdpFrameParseOptions = {}): UdpFrame {
  const ethernet = parseEthernet(frame);
  if (ethernet.etherType !== ETHERTYPE_IPV4) {
    throw new WireError('ethernet', 'malformed', `EtherType 0x${ethernet.etherType.toString(16)} is not IPv4`);
  }
  const packet = frame.subarray(ethernet.payloadOffset);
  const ipv4 = parseIpv4(packet);
  if (ipv4.protocol !== IPPROTO_UDP) {
    throw new WireError('ipv4', 'malformed', `protocol ${ipv4.protocol} is not UDP`);
  }
  const datagram = packet.subarray(ipv4.headerLength, ipv4.totalLength);
  const udp = parseUdp(datagram, options.verifyUdpChecksum === false ? undefined : { src: ipv4.src, dst: ipv4.dst });
  return { ethernet, ipv4, udp, payload: datagram.subarray(UDP_HEADER_SIZE, udp.length) };
}
