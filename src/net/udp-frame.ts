/**
 * Ethernet + IPv4 + UDP framing with the field values the FreeBSD kernel's
 * netdump client uses (spec §2.3, §2.4): TOS 0, ID 0, DF, TTL 255, both
 * checksums computed in software, no IP options, no VLAN tag.
 */
import {
  emitEthernet,
  emitIpv4,
  emitUdp,
  ETHERTYPE_IPV4,
  FRAME_IPV4_AT,
  FRAME_UDP_AT,
  IPPROTO_UDP,
  IPV4_HEADER_SIZE,
  IPV4_MAX_TOTAL_LENGTH,
  finishChecksum,
  ipv4PseudoHeaderSum,
  setIpv4Checksum,
  setIpv4TotalLength,
  setUdpChecksum,
  setUdpLength,
  sumWords,
  UDP_HEADER_SIZE,
  UDP_PAYLOAD_OFFSET,
  udpChecksumField,
  WireError,
} from '../wire/index.js';

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
    FRAME_IPV4_AT,
  );
  emitUdp({ srcPort: addressing.srcPort, dstPort: addressing.dstPort, length: udpLength }, frame, FRAME_UDP_AT, {
    src: addressing.srcIp,
    dst: addressing.dstIp,
  });
  return frameLength;
}

/** The frame's length for a payload of `payloadLength`; throws if it does not fit the frame or an IPv4 packet. */
function checkFits(frame: Uint8Array, payloadLength: number): number {
  const frameLength = UDP_PAYLOAD_OFFSET + payloadLength;
  if (frame.length < frameLength || IPV4_HEADER_SIZE + UDP_HEADER_SIZE + payloadLength > IPV4_MAX_TOTAL_LENGTH) {
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
    setIpv4TotalLength(this.template, FRAME_IPV4_AT, 0);
    setIpv4Checksum(this.template, FRAME_IPV4_AT, 0);
    setUdpLength(this.template, FRAME_UDP_AT, 0);
    setUdpChecksum(this.template, FRAME_UDP_AT, 0);
    this.ipSum = sumWords(this.template, FRAME_IPV4_AT, FRAME_UDP_AT);
    this.udpSum = sumWords(
      this.template,
      FRAME_UDP_AT,
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
    setIpv4TotalLength(frame, FRAME_IPV4_AT, totalLength);
    setIpv4Checksum(frame, FRAME_IPV4_AT, finishChecksum(this.ipSum + totalLength));
    setUdpLength(frame, FRAME_UDP_AT, udpLength);
    // The UDP length counts twice: in the pseudo-header and in the header.
    const checksum = finishChecksum(sumWords(frame, UDP_PAYLOAD_OFFSET, frameLength, this.udpSum + 2 * udpLength));
    setUdpChecksum(frame, FRAME_UDP_AT, udpChecksumField(checksum));
    return frameLength;
  }
}
