/** ARP for Ethernet/IPv4 (RFC 826), the only kind netdump speaks (spec §2.2, §3.2). */
import { WireError, requireLength, requireRoom } from './errors.js';
import { readU16BE, readU8, writeU16BE, writeU8 } from './bytes.js';
import { MAC_SIZE, IPV4_ADDRESS_SIZE, readIpv4, readMac, requireIpv4, requireMac, writeIpv4, writeMac } from './address.js';
import { BROADCAST_MAC, ETHERNET_HEADER_SIZE, ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet } from './ethernet.js';

export const ARP_HTYPE_OFFSET = 0;
export const ARP_PTYPE_OFFSET = 2;
export const ARP_HLEN_OFFSET = 4;
export const ARP_PLEN_OFFSET = 5;
export const ARP_OP_OFFSET = 6;
export const ARP_SENDER_MAC_OFFSET = 8;
export const ARP_SENDER_IP_OFFSET = 14;
export const ARP_TARGET_MAC_OFFSET = 18;
export const ARP_TARGET_IP_OFFSET = 24;
export const ARP_BODY_SIZE = 28;
/** Ethernet header + ARP body, unpadded: the driver pads to 60 (spec §2.2). */
export const ARP_FRAME_SIZE = ETHERNET_HEADER_SIZE + ARP_BODY_SIZE;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = ETHERTYPE_IPV4;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export type ArpOp = typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY;

/*
 * Field accessors on an ARP body at byte `at` (smoltcp's Packet view): the
 * caller checks first that ARP_BODY_SIZE bytes are there. MACs read are copies.
 */
export const arpHardwareType = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + ARP_HTYPE_OFFSET);
export const arpProtocolType = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + ARP_PTYPE_OFFSET);
export const arpHardwareLength = (buf: Uint8Array, at = 0): number => readU8(buf, at + ARP_HLEN_OFFSET);
export const arpProtocolLength = (buf: Uint8Array, at = 0): number => readU8(buf, at + ARP_PLEN_OFFSET);
export const arpOp = (buf: Uint8Array, at = 0): number => readU16BE(buf, at + ARP_OP_OFFSET);
export const arpSenderMac = (buf: Uint8Array, at = 0): Uint8Array => readMac(buf, at + ARP_SENDER_MAC_OFFSET);
export const arpSenderIp = (buf: Uint8Array, at = 0): number => readIpv4(buf, at + ARP_SENDER_IP_OFFSET);
export const arpTargetMac = (buf: Uint8Array, at = 0): Uint8Array => readMac(buf, at + ARP_TARGET_MAC_OFFSET);
export const arpTargetIp = (buf: Uint8Array, at = 0): number => readIpv4(buf, at + ARP_TARGET_IP_OFFSET);
/** The four fields that say Ethernet/IPv4: hardware type 1, protocol 0x0800, lengths 6 and 4. */
function setArpEthernetIpv4(buf: Uint8Array, at: number): void {
  writeU16BE(buf, at + ARP_HTYPE_OFFSET, ARP_HTYPE_ETHERNET);
  writeU16BE(buf, at + ARP_PTYPE_OFFSET, ARP_PTYPE_IPV4);
  writeU8(buf, at + ARP_HLEN_OFFSET, MAC_SIZE);
  writeU8(buf, at + ARP_PLEN_OFFSET, IPV4_ADDRESS_SIZE);
}
export const setArpOp = (buf: Uint8Array, at: number, value: number): void => writeU16BE(buf, at + ARP_OP_OFFSET, value);
export const setArpSenderMac = (buf: Uint8Array, at: number, mac: Uint8Array): void => writeMac(buf, at + ARP_SENDER_MAC_OFFSET, mac);
export const setArpSenderIp = (buf: Uint8Array, at: number, value: number): void => writeIpv4(buf, at + ARP_SENDER_IP_OFFSET, value);
export const setArpTargetMac = (buf: Uint8Array, at: number, mac: Uint8Array): void => writeMac(buf, at + ARP_TARGET_MAC_OFFSET, mac);
export const setArpTargetIp = (buf: Uint8Array, at: number, value: number): void => writeIpv4(buf, at + ARP_TARGET_IP_OFFSET, value);

export interface ArpRepr {
  op: ArpOp;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

const ZERO_MAC = new Uint8Array(MAC_SIZE);

function expectField(name: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new WireError('arp', 'malformed', `${name} is ${actual}, only ${expected} (Ethernet/IPv4) is supported`);
  }
}

/** Parses an ARP body; trailing bytes (Ethernet padding) are ignored. MACs are copies. */
export function parseArp(body: Uint8Array): ArpRepr {
  requireLength('arp', body, ARP_BODY_SIZE);
  expectField('hardware type', arpHardwareType(body), ARP_HTYPE_ETHERNET);
  expectField('protocol type', arpProtocolType(body), ARP_PTYPE_IPV4);
  expectField('hardware address length', arpHardwareLength(body), MAC_SIZE);
  expectField('protocol address length', arpProtocolLength(body), IPV4_ADDRESS_SIZE);
  const op = arpOp(body);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) {
    throw new WireError('arp', 'malformed', `operation is ${op}, expected 1 (request) or 2 (reply)`);
  }
  return {
    op,
    senderMac: arpSenderMac(body),
    senderIp: arpSenderIp(body),
    targetMac: arpTargetMac(body),
    targetIp: arpTargetIp(body),
  };
}

function validateArp(repr: ArpRepr): void {
  if (repr.op !== ARP_OP_REQUEST && repr.op !== ARP_OP_REPLY) {
    throw new WireError('arp', 'range', `op = ${repr.op as number} must be 1 (request) or 2 (reply)`);
  }
  requireMac('arp senderMac', repr.senderMac);
  requireMac('arp targetMac', repr.targetMac);
  requireIpv4('arp senderIp', repr.senderIp);
  requireIpv4('arp targetIp', repr.targetIp);
}

function writeArp(repr: ArpRepr, buf: Uint8Array, offset: number): number {
  setArpEthernetIpv4(buf, offset);
  setArpOp(buf, offset, repr.op);
  setArpSenderMac(buf, offset, repr.senderMac);
  setArpSenderIp(buf, offset, repr.senderIp);
  setArpTargetMac(buf, offset, repr.targetMac);
  setArpTargetIp(buf, offset, repr.targetIp);
  return ARP_BODY_SIZE;
}

/** Writes the 28-byte ARP body. Returns bytes written. */
export function emitArp(repr: ArpRepr, buf: Uint8Array, offset = 0): number {
  validateArp(repr);
  requireRoom('arp', buf, offset, ARP_BODY_SIZE);
  return writeArp(repr, buf, offset);
}

/** Ethernet header + ARP body; nothing is written unless everything is valid. */
function emitArpFrame(ethernetDst: Uint8Array, arp: ArpRepr, buf: Uint8Array, offset: number): number {
  validateArp(arp);
  requireRoom('arp', buf, offset, ARP_FRAME_SIZE);
  const header = emitEthernet({ dst: ethernetDst, src: arp.senderMac, etherType: ETHERTYPE_ARP }, buf, offset);
  return header + writeArp(arp, buf, offset + header);
}

export interface ArpRequestParams {
  /** Our NIC's MAC (Ethernet source and ARP sender). */
  senderMac: Uint8Array;
  /** Our IPv4 address. */
  senderIp: number;
  /** The address being resolved. */
  targetIp: number;
}

/**
 * The kernel's who-has (spec §2.2): broadcast destination, target MAC zero,
 * 42 bytes with no padding. Returns bytes written.
 */
export function emitArpRequestFrame(params: ArpRequestParams, buf: Uint8Array, offset = 0): number {
  const request: ArpRepr = {
    op: ARP_OP_REQUEST,
    senderMac: params.senderMac,
    senderIp: params.senderIp,
    targetMac: ZERO_MAC,
    targetIp: params.targetIp,
  };
  return emitArpFrame(BROADCAST_MAC, request, buf, offset);
}

export interface ArpReplyParams {
  /** Our NIC's MAC (Ethernet source and ARP sender). */
  senderMac: Uint8Array;
  /** Our IPv4 address (the one that was asked for). */
  senderIp: number;
  /** The requester's MAC: ARP target and unicast Ethernet destination. */
  targetMac: Uint8Array;
  /** The requester's IPv4 address. */
  targetIp: number;
}

/** A unicast is-at reply to the requester (spec §12 item 25), 42 bytes. */
export function emitArpReplyFrame(params: ArpReplyParams, buf: Uint8Array, offset = 0): number {
  const reply: ArpRepr = {
    op: ARP_OP_REPLY,
    senderMac: params.senderMac,
    senderIp: params.senderIp,
    targetMac: params.targetMac,
    targetIp: params.targetIp,
  };
  return emitArpFrame(params.targetMac, reply, buf, offset);
}
