/**
 * Ethernet + IPv4 + UDP framing with the field values the FreeBSD kernel's
 * netdump client uses (spec §2.3, §2.4): TOS 0, ID 0, DF, TTL 255, both
 * checksums computed in software, no IP options, no VLAN tag.
 */
import {
  emitEthernet,
  emitIpv4,
  emitUdp,
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_IPV4,
  IPPROTO_UDP,
  IPV4_CHECKSUM_OFFSET,
  IPV4_HEADER_SIZE,
  IPV4_TOTAL_LENGTH_OFFSET,
  parseEthernet,
  parseIpv4,
  parseUdp,
  finishChecksum,
  ipv4PseudoHeaderSum,
  sumWords,
  UDP_CHECKSUM_OFFSET,
  UDP_HEADER_SIZE,
  UDP_LENGTH_OFFSET,
  WireError,
  type EthernetFrame,
  type Ipv4Repr,
  type UdpRepr,
} from '../wire/index.js';

export const UDP_PAYLOAD_OFFSET = ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + UDP_HEADER_SIZE;
const KERNEL_TTL = 255;
const UDP_AT = ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE;
const IP_TOTAL_LENGTH_AT = ETHERNET_HEADER_SIZE + IPV4_TOTAL_LENGTH_OFFSET;
const IP_CHECKSUM_AT = ETHERNET_HEADER_SIZE + IPV4_CHECKSUM_OFFSET;
const UDP_LENGTH_AT = UDP_AT + UDP_LENGTH_OFFSET;
const UDP_CHECKSUM_AT = UDP_AT + UDP_CHECKSUM_OFFSET;

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
 * at UDP_PAYLOAD_OFFSET, through the validating emitters of src/wire;
 * returns the frame's length. The dump's packets go through UdpFramer,
 * which copies these headers from a template instead.
 */
export function emitUdpFrameHeaders(addressing: UdpFrameAddressing, frame: Uint8Array, payloadLength: number): number {
  const udpLength = UDP_HEADER_SIZE + payloadLength;
  const frameLength = checkFits(frame, payloadLength);
  emitEthernet({ dst: addressing.dstMac, src: addressing.srcMac, etherType: ETHERTYPE_IPV4 }, frame, 0);
  emitIpv4(
    {
      tos: 0,
      totalLength: IPV4_HEADER_SIZE + udpLength,
      id: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: KERNEL_TTL,
      protocol: IPPROTO_UDP,
      src: addressing.srcIp,
      dst: addressing.dstIp,
    },
    frame,
    ETHERNET_HEADER_SIZE,
  );
  emitUdp({ srcPort: addressing.srcPort, dstPort: addressing.dstPort, length: udpLength }, frame, UDP_AT, {
    src: addressing.srcIp,
    dst: addressing.dstIp,
  });
  return frameLength;
}

/** The frame's length for a payload of `payloadLength`; throws if it does not fit the frame or an IPv4 packet. */
function checkFits(frame: Uint8Array, payloadLength: number): number {
  const frameLength = UDP_PAYLOAD_OFFSET + payloadLength;
  if (frame.length < frameLength || UDP_HEADER_SIZE + payloadLength > 0xffff - IPV4_HEADER_SIZE) {
    throw new WireError('udp', 'range', `a ${payloadLength}-byte payload does not fit a ${frame.length}-byte frame or an IPv4 packet`);
  }
  return frameLength;
}

/**
 * Frames messages for one addressing from headers built once: per frame,
 * one copy of the 42 header bytes, the two lengths, and the checksums from
 * the sums of the fields that never change, kept aside. The same bytes as
 * emitUdpFrameHeaders at a fraction of the work: a dump frames every packet.
 */
export class UdpFramer {
  private readonly template = new Uint8Array(UDP_PAYLOAD_OFFSET);
  /** Sum of the IPv4 header without its total length and checksum. */
  private readonly ipSum: number;
  /** Sum of the pseudo-header without the length, and of the UDP ports. */
  private readonly udpSum: number;

  constructor(readonly addressing: Readonly<UdpFrameAddressing>) {
    emitUdpFrameHeaders(addressing, this.template, 0);
    for (const at of [IP_TOTAL_LENGTH_AT, IP_CHECKSUM_AT, UDP_LENGTH_AT, UDP_CHECKSUM_AT]) putU16(this.template, at, 0);
    this.ipSum = sumWords(this.template, ETHERNET_HEADER_SIZE, UDP_AT);
    this.udpSum = sumWords(
      this.template,
      UDP_AT,
      UDP_PAYLOAD_OFFSET,
      ipv4PseudoHeaderSum(addressing.srcIp, addressing.dstIp, IPPROTO_UDP, 0),
    );
  }

  /** Writes the headers in front of a payload already at UDP_PAYLOAD_OFFSET; returns the frame's length. */
  frame(frame: Uint8Array, payloadLength: number): number {
    const frameLength = checkFits(frame, payloadLength);
    const udpLength = UDP_HEADER_SIZE + payloadLength;
    const totalLength = IPV4_HEADER_SIZE + udpLength;
    frame.set(this.template);
    putU16(frame, IP_TOTAL_LENGTH_AT, totalLength);
    putU16(frame, IP_CHECKSUM_AT, finishChecksum(this.ipSum + totalLength));
    putU16(frame, UDP_LENGTH_AT, udpLength);
    // The UDP length counts twice: in the pseudo-header and in the header.
    const checksum = finishChecksum(sumWords(frame, UDP_PAYLOAD_OFFSET, frameLength, this.udpSum + 2 * udpLength));
    putU16(frame, UDP_CHECKSUM_AT, checksum === 0 ? 0xffff : checksum); // spec §2.4: a computed 0 goes out as 0xFFFF
    return frameLength;
  }
}

/** A u16 at a fixed header offset inside a frame checkFits has checked. */
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
