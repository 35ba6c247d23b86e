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
  IPV4_HEADER_SIZE,
  parseEthernet,
  parseIpv4,
  parseUdp,
  UDP_HEADER_SIZE,
  WireError,
  type EthernetFrame,
  type Ipv4Repr,
  type UdpRepr,
} from '../wire/index.js';

export const UDP_PAYLOAD_OFFSET = ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + UDP_HEADER_SIZE;
const KERNEL_TTL = 255;

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
 * the frame's length.
 */
export function emitUdpFrameHeaders(addressing: UdpFrameAddressing, frame: Uint8Array, payloadLength: number): number {
  const udpLength = UDP_HEADER_SIZE + payloadLength;
  emitEthernet({ dst: addressing.dstMac, src: addressing.srcMac, etherType: ETHERTYPE_IPV4 }, frame, 0);
  emitUdp(
    { srcPort: addressing.srcPort, dstPort: addressing.dstPort, length: udpLength },
    frame,
    ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE,
    { src: addressing.srcIp, dst: addressing.dstIp },
  );
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
  return UDP_PAYLOAD_OFFSET + payloadLength;
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
