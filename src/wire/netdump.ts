/** The netdump message header and ack (spec §1.1, §2.5, §2.6). */
import { WireError, requireLength, requireRoom, requireUint } from './errors.js';
import { readU32BE, readU64BE, writeU32BE, writeU64BE } from './bytes.js';

export const NETDUMP_HERALD = 1;
export const NETDUMP_FINISHED = 2;
export const NETDUMP_VMCORE = 3;
export const NETDUMP_KDH = 4;
export const NETDUMP_EKCD_KEY = 5;

/** Server herald port; every later message goes to the port the first ack came from. */
export const NETDUMP_PORT = 20023;
/** Client port: source of every client packet, destination of every ack. */
export const NETDUMP_ACKPORT = 20024;

/** FreeBSD 12.x payload cap, and what netdumpd accepts (spec §2.7). */
export const NETDUMP_DATASIZE = 4096;
/** A herald's payload, the path with its NUL, is at most MAXPATHLEN bytes: netdumpd reads 24 + 1024 (spec §6.3). */
export const NETDUMP_HERALD_PATH_MAX = 1024;

export const NETDUMP_TYPE_OFFSET = 0;
export const NETDUMP_SEQNO_OFFSET = 4;
export const NETDUMP_OFFSET_OFFSET = 8;
export const NETDUMP_LEN_OFFSET = 16;
export const NETDUMP_AUX2_OFFSET = 20;
export const NETDUMP_HEADER_SIZE = 24;

export const NETDUMP_ACK_SEQNO_OFFSET = 0;
export const NETDUMP_ACK_SIZE = 4;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  [NETDUMP_HERALD]: 'HERALD',
  [NETDUMP_FINISHED]: 'FINISHED',
  [NETDUMP_VMCORE]: 'VMCORE',
  [NETDUMP_KDH]: 'KDH',
  [NETDUMP_EKCD_KEY]: 'EKCD_KEY',
};

/** "VMCORE", or "unknown(9)" for a type this layer does not know. */
export function netdumpTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown(${type})`;
}

export interface NetdumpHeaderRepr {
  /** Message type; unknown values are reported, not rejected. */
  type: number;
  seqno: number;
  /** File offset of the payload (u64). */
  offset: number;
  /** Payload length, header excluded. */
  len: number;
  /** mh__pad in 12.x, mh_aux2 in 13+; 0 for netdump. */
  aux2: number;
}

export interface NetdumpMessage extends NetdumpHeaderRepr {
  /** A view into the parsed datagram (not a copy); its length equals `len`. */
  payload: Uint8Array;
}

export type NetdumpMessageFields = Omit<NetdumpHeaderRepr, 'len'>;

export interface NetdumpAckRepr {
  seqno: number;
}

/*
 * Field accessors on a header at byte `at` of a buffer, for the hot paths
 * that must not build a repr per datagram (smoltcp's Packet view): the
 * caller checks first that NETDUMP_HEADER_SIZE bytes are there.
 */
export const netdumpType = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_TYPE_OFFSET);
export const netdumpSeqno = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_SEQNO_OFFSET);
/** The offset's high and low 32 bits: exact where a number is not (2^53 and up). */
export const netdumpOffsetHigh = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_OFFSET_OFFSET);
export const netdumpOffsetLow = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_OFFSET_OFFSET + 4);
/** The offset as a number: exact below 2^53 (every offset a file of ours can hold), rounded above. */
export const netdumpOffset = (buf: Uint8Array, at = 0): number => netdumpOffsetHigh(buf, at) * 0x1_0000_0000 + netdumpOffsetLow(buf, at);
/** The offset exact, all 64 bits. */
export const netdumpOffset64 = (buf: Uint8Array, at = 0): bigint =>
  (BigInt(netdumpOffsetHigh(buf, at)) << 32n) | BigInt(netdumpOffsetLow(buf, at));
export const netdumpLen = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_LEN_OFFSET);
export const netdumpAux2 = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_AUX2_OFFSET);

export const setNetdumpType = (buf: Uint8Array, at: number, value: number): void => writeU32BE(buf, at + NETDUMP_TYPE_OFFSET, value);
export const setNetdumpSeqno = (buf: Uint8Array, at: number, value: number): void => writeU32BE(buf, at + NETDUMP_SEQNO_OFFSET, value);
/** The offset from a number: a safe integer, so below 2^53. */
export const setNetdumpOffset = (buf: Uint8Array, at: number, value: number): void => writeU64BE(buf, at + NETDUMP_OFFSET_OFFSET, value);
/** The offset from a bigint: all 64 bits. */
export const setNetdumpOffset64 = (buf: Uint8Array, at: number, value: bigint): void => {
  writeU32BE(buf, at + NETDUMP_OFFSET_OFFSET, Number(BigInt.asUintN(64, value) >> 32n));
  writeU32BE(buf, at + NETDUMP_OFFSET_OFFSET + 4, Number(BigInt.asUintN(32, value)));
};
export const setNetdumpLen = (buf: Uint8Array, at: number, value: number): void => writeU32BE(buf, at + NETDUMP_LEN_OFFSET, value);
export const setNetdumpAux2 = (buf: Uint8Array, at: number, value: number): void => writeU32BE(buf, at + NETDUMP_AUX2_OFFSET, value);

/** An ack's sequence number, at byte `at` (the caller checks that NETDUMP_ACK_SIZE bytes are there). */
export const netdumpAckSeqno = (buf: Uint8Array, at = 0): number => readU32BE(buf, at + NETDUMP_ACK_SEQNO_OFFSET);
export const setNetdumpAckSeqno = (buf: Uint8Array, at: number, value: number): void =>
  writeU32BE(buf, at + NETDUMP_ACK_SEQNO_OFFSET, value);

/** Reads the 24-byte header only; the payload length is not checked. */
export function parseNetdumpHeader(datagram: Uint8Array): NetdumpHeaderRepr {
  requireLength('netdump', datagram, NETDUMP_HEADER_SIZE);
  return {
    type: netdumpType(datagram),
    seqno: netdumpSeqno(datagram),
    offset: readU64BE(datagram, NETDUMP_OFFSET_OFFSET, 'netdump', 'offset'),
    len: netdumpLen(datagram),
    aux2: netdumpAux2(datagram),
  };
}

/**
 * Parses a whole UDP payload. As netdumpd does, the datagram must be exactly
 * 24 + len bytes: fewer is 'truncated', more is 'malformed'.
 */
export function parseNetdumpMessage(datagram: Uint8Array): NetdumpMessage {
  const header = parseNetdumpHeader(datagram);
  const expected = NETDUMP_HEADER_SIZE + header.len;
  if (datagram.length < expected) {
    throw new WireError('netdump', 'truncated', `header says ${header.len} payload bytes (${expected} in all), have ${datagram.length}`);
  }
  if (datagram.length > expected) {
    throw new WireError(
      'netdump',
      'malformed',
      `header says ${header.len} payload bytes (${expected} in all), datagram has ${datagram.length}`,
    );
  }
  return { ...header, payload: datagram.subarray(NETDUMP_HEADER_SIZE, expected) };
}

function validateHeaderFields(fields: NetdumpMessageFields): void {
  requireUint('netdump', 'type', fields.type, 0xffff_ffff);
  requireUint('netdump', 'seqno', fields.seqno, 0xffff_ffff);
  requireUint('netdump', 'offset', fields.offset, Number.MAX_SAFE_INTEGER);
  requireUint('netdump', 'aux2', fields.aux2, 0xffff_ffff);
}

// Takes the length separately so emitNetdumpMessage need not build a repr per packet.
function writeHeader(fields: NetdumpMessageFields, len: number, buf: Uint8Array, offset: number): number {
  setNetdumpType(buf, offset, fields.type);
  setNetdumpSeqno(buf, offset, fields.seqno);
  setNetdumpOffset(buf, offset, fields.offset);
  setNetdumpLen(buf, offset, len);
  setNetdumpAux2(buf, offset, fields.aux2);
  return NETDUMP_HEADER_SIZE;
}

/** Writes the 24-byte header only (the caller places `len` payload bytes after it). */
export function emitNetdumpHeader(repr: NetdumpHeaderRepr, buf: Uint8Array, offset = 0): number {
  validateHeaderFields(repr);
  requireUint('netdump', 'len', repr.len, 0xffff_ffff);
  requireRoom('netdump', buf, offset, NETDUMP_HEADER_SIZE);
  return writeHeader(repr, repr.len, buf, offset);
}

/**
 * Writes header + a copy of `payload`, with len = payload.length. `payload`
 * may be a view of `buf`, even one already in place. Returns bytes written.
 */
export function emitNetdumpMessage(fields: NetdumpMessageFields, payload: Uint8Array, buf: Uint8Array, offset = 0): number {
  validateHeaderFields(fields);
  requireRoom('netdump', buf, offset, NETDUMP_HEADER_SIZE + payload.length);
  // Payload first: if it overlaps the header's bytes in `buf`, it is copied before they change.
  buf.set(payload, offset + NETDUMP_HEADER_SIZE);
  writeHeader(fields, payload.length, buf, offset);
  return NETDUMP_HEADER_SIZE + payload.length;
}

/*
 * Which UDP payloads count as an ack differs by release (spec §2.6: exactly
 * 4 bytes under 13+, at least 4 under 12.x); the stack's receive filter
 * applies the rule in the kernel's order, reading the seqno with
 * netdumpAckSeqno.
 */
export function emitNetdumpAck(repr: NetdumpAckRepr, buf: Uint8Array, offset = 0): number {
  requireUint('netdump-ack', 'seqno', repr.seqno, 0xffff_ffff);
  requireRoom('netdump-ack', buf, offset, NETDUMP_ACK_SIZE);
  setNetdumpAckSeqno(buf, offset, repr.seqno);
  return NETDUMP_ACK_SIZE;
}
