/** Ethernet II header (spec §2.1). VLAN tags are reported, not stripped. */
import { requireLength, requireRoom, requireUint } from './errors.js';
import { readU16BE, writeU16BE } from './bytes.js';
import { macEquals, macEqualsAt, readMac, requireMac, writeMac } from './address.js';

export const ETHERNET_DST_OFFSET = 0;
export const ETHERNET_SRC_OFFSET = 6;
export const ETHERNET_ETHERTYPE_OFFSET = 12;
export const ETHERNET_HEADER_SIZE = 14;
/** The frame check sequence the NIC appends; never in our buffers, but counted in a frame's size. */
export const ETHERNET_CRC_SIZE = 4;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;

/**
 * ff:ff:ff:ff:ff:ff. A typed array cannot be frozen, so treat this as
 * read-only; use `isBroadcastMac` to test an address.
 */
export const BROADCAST_MAC: Readonly<Uint8Array> = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
}

export interface EthernetFrame extends EthernetRepr {
  /** Where the payload starts in the parsed buffer (always 14). */
  payloadOffset: number;
}

/*
 * Field accessors on a frame at byte `at` (smoltcp's Packet view): the
 * caller checks first that ETHERNET_HEADER_SIZE bytes are there.
 */
export const ethernetEtherType = (frame: Uint8Array, at = 0): number => readU16BE(frame, at + ETHERNET_ETHERTYPE_OFFSET);
export const setEthernetEtherType = (frame: Uint8Array, at: number, value: number): void =>
  writeU16BE(frame, at + ETHERNET_ETHERTYPE_OFFSET, value);
export const setEthernetDst = (frame: Uint8Array, at: number, mac: Uint8Array): void => writeMac(frame, at + ETHERNET_DST_OFFSET, mac);
export const setEthernetSrc = (frame: Uint8Array, at: number, mac: Uint8Array): void => writeMac(frame, at + ETHERNET_SRC_OFFSET, mac);
export const ethernetDstIs = (frame: Uint8Array, mac: Uint8Array, at = 0): boolean => macEqualsAt(frame, at + ETHERNET_DST_OFFSET, mac);
export const ethernetSrcIs = (frame: Uint8Array, mac: Uint8Array, at = 0): boolean => macEqualsAt(frame, at + ETHERNET_SRC_OFFSET, mac);

/** The largest frame an interface of this MTU carries, CRC included: FreeBSD's mtu + ETHER_HDR_LEN + ETHER_CRC_LEN. */
export function ethernetMaxFrameSize(mtu: number): number {
  return mtu + ETHERNET_HEADER_SIZE + ETHERNET_CRC_SIZE;
}

export function isBroadcastMac(mac: Uint8Array): boolean {
  return macEquals(mac, BROADCAST_MAC);
}

/** Parses the header of a frame (FCS already removed); MACs are copies. */
export function parseEthernet(frame: Uint8Array): EthernetFrame {
  requireLength('ethernet', frame, ETHERNET_HEADER_SIZE);
  return {
    dst: readMac(frame, ETHERNET_DST_OFFSET),
    src: readMac(frame, ETHERNET_SRC_OFFSET),
    etherType: ethernetEtherType(frame),
    payloadOffset: ETHERNET_HEADER_SIZE,
  };
}

export function emitEthernet(repr: EthernetRepr, buf: Uint8Array, offset = 0): number {
  requireMac('ethernet dst', repr.dst);
  requireMac('ethernet src', repr.src);
  requireUint('ethernet', 'etherType', repr.etherType, 0xffff);
  requireRoom('ethernet', buf, offset, ETHERNET_HEADER_SIZE);
  setEthernetDst(buf, offset, repr.dst);
  setEthernetSrc(buf, offset, repr.src);
  setEthernetEtherType(buf, offset, repr.etherType);
  return ETHERNET_HEADER_SIZE;
}
