/**
 * Whole IPv4/UDP frames for tests: build one around a payload through the
 * validating emitters, and parse one back with both checksums verified.
 * The client never needs either; it frames with UdpFramer.
 */
import { emitUdpFrameHeaders, type UdpFrameAddressing } from '../../src/net/udp-frame.js';
import {
  ETHERTYPE_IPV4,
  IPPROTO_UDP,
  parseEthernet,
  parseIpv4,
  parseUdp,
  UDP_HEADER_SIZE,
  UDP_PAYLOAD_OFFSET,
  WireError,
  type EthernetFrame,
  type Ipv4Repr,
  type UdpRepr,
} from '../../src/wire/index.js';

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
