/**
 * Where each header sits in a frame the kernel's netdump client sends or
 * accepts: Ethernet II, a 20-byte IPv4 header (the kernel sends no options
 * and drops packets that carry them, spec §3.5), UDP, then the netdump
 * message or ack.
 */
import { ETHERNET_HEADER_SIZE, ETHERTYPE_IPV4, ethernetEtherType } from './ethernet.js';
import { IPPROTO_UDP, IPV4_HEADER_SIZE, ipv4HeaderLength, ipv4Protocol } from './ipv4.js';
import { UDP_HEADER_SIZE } from './udp.js';

export const FRAME_IPV4_AT = ETHERNET_HEADER_SIZE;
export const FRAME_UDP_AT = FRAME_IPV4_AT + IPV4_HEADER_SIZE;
/** Where the netdump message (or ack) starts: 42. */
export const UDP_PAYLOAD_OFFSET = FRAME_UDP_AT + UDP_HEADER_SIZE;

/**
 * Whether `frame` is Ethernet / IPv4 without options / UDP with at least
 * `payloadBytes` bytes after the UDP header: the question middleware asks
 * before it reads a netdump field at UDP_PAYLOAD_OFFSET.
 */
export function isUdpFrame(frame: Uint8Array, payloadBytes = 0): boolean {
  return (
    frame.length >= UDP_PAYLOAD_OFFSET + payloadBytes &&
    ethernetEtherType(frame) === ETHERTYPE_IPV4 &&
    ipv4HeaderLength(frame, FRAME_IPV4_AT) === IPV4_HEADER_SIZE &&
    ipv4Protocol(frame, FRAME_IPV4_AT) === IPPROTO_UDP
  );
}
