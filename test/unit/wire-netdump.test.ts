import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emitNetdumpAck,
  emitNetdumpHeader,
  emitNetdumpMessage,
  ETHERTYPE_IPV4,
  NETDUMP_ACKPORT,
  NETDUMP_DATASIZE,
  NETDUMP_EKCD_KEY,
  NETDUMP_FINISHED,
  NETDUMP_HEADER_SIZE,
  NETDUMP_HERALD,
  NETDUMP_KDH,
  NETDUMP_PORT,
  NETDUMP_VMCORE,
  netdumpAckSeqno,
  setNetdumpAckSeqno,
  netdumpAux2,
  netdumpLen,
  netdumpOffsetHigh,
  netdumpOffsetLow,
  netdumpSeqno,
  netdumpType,
  netdumpTypeName,
  parseEthernet,
  parseIpv4,
  parseIpv4Address,
  parseMac,
  parseNetdumpHeader,
  parseNetdumpMessage,
  parseUdp,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { emitUdpFrameHeaders } from '../../src/net/udp-frame.js';
import { assertBytes, assertWireError, hex } from './wire-helpers.js';

const CLIENT_MAC = parseMac('02:00:00:00:00:01');
const SERVER_MAC = parseMac('02:00:00:00:00:02');
const CLIENT_IP = parseIpv4Address('198.18.0.1');
const SERVER_IP = parseIpv4Address('198.18.0.2');

// Spec §2.8, verbatim.
const HERALD_PAYLOAD = hex('00 00 00 01 | 00 00 00 01 | 00 00 00 00 00 00 00 00 | 00 00 00 04 | 00 00 00 00 | 66 6f 6f 00');

// The whole frame. IP checksum 0xef8c and UDP checksum 0x0199 computed once
// with python3 (RFC 1071 over the header / pseudo-header + datagram).
const HERALD_FRAME = hex(`
  02 00 00 00 00 02 | 02 00 00 00 00 01 | 08 00
  45 00 00 38 | 00 00 40 00 | ff 11 ef 8c | c6 12 00 01 | c6 12 00 02
  4e 38 4e 37 | 00 24 01 99
  00 00 00 01 | 00 00 00 01 | 00 00 00 00 00 00 00 00 | 00 00 00 04 | 00 00 00 00 | 66 6f 6f 00`);

const HERALD_PATH = new TextEncoder().encode('foo\0');

test('constants of spec §1 and §2.5', () => {
  assert.deepEqual([NETDUMP_HERALD, NETDUMP_FINISHED, NETDUMP_VMCORE, NETDUMP_KDH, NETDUMP_EKCD_KEY], [1, 2, 3, 4, 5]);
  assert.equal(NETDUMP_PORT, 20023);
  assert.equal(NETDUMP_ACKPORT, 20024);
  assert.equal(NETDUMP_HEADER_SIZE, 24);
  assert.equal(NETDUMP_DATASIZE, 4096);
  assert.equal(netdumpTypeName(NETDUMP_VMCORE), 'VMCORE');
  assert.equal(netdumpTypeName(9), 'unknown(9)');
});

test('HERALD payload of spec §2.8, byte for byte', () => {
  const buf = new Uint8Array(64);
  const written = emitNetdumpMessage({ type: NETDUMP_HERALD, seqno: 1, offset: 0, aux2: 0 }, HERALD_PATH, buf);
  assert.equal(written, 28);
  assertBytes(buf.subarray(0, written), HERALD_PAYLOAD);
});

test("HERALD frame of spec §2.8, every byte, with the kernel's IPv4/UDP framing", () => {
  const frame = new Uint8Array(1514);
  const messageLength = emitNetdumpMessage({ type: NETDUMP_HERALD, seqno: 1, offset: 0, aux2: 0 }, HERALD_PATH, frame, UDP_PAYLOAD_OFFSET);
  const addressing = {
    srcMac: CLIENT_MAC,
    dstMac: SERVER_MAC,
    srcIp: CLIENT_IP,
    dstIp: SERVER_IP,
    srcPort: NETDUMP_ACKPORT,
    dstPort: NETDUMP_PORT,
  };
  const frameLength = emitUdpFrameHeaders(addressing, frame, messageLength);
  assertBytes(frame.subarray(0, frameLength), HERALD_FRAME);
});

test('HERALD frame parses back through every layer', () => {
  const ethernet = parseEthernet(HERALD_FRAME);
  assert.equal(ethernet.etherType, ETHERTYPE_IPV4);
  const packet = HERALD_FRAME.subarray(ethernet.payloadOffset);
  const ip = parseIpv4(packet);
  assert.equal(ip.totalLength, 56);
  assert.equal(ip.ttl, 255);
  assert.ok(ip.dontFragment);
  const datagram = packet.subarray(ip.headerLength, ip.totalLength);
  const udp = parseUdp(datagram, { src: ip.src, dst: ip.dst });
  assert.deepEqual(udp, { srcPort: 20024, dstPort: 20023, length: 36, checksum: 0x0199 });
  const message = parseNetdumpMessage(datagram.subarray(8, udp.length));
  assert.equal(message.type, NETDUMP_HERALD);
  assert.equal(message.seqno, 1);
  assert.equal(message.offset, 0);
  assert.equal(message.len, 4);
  assert.equal(message.aux2, 0);
  assertBytes(message.payload, HERALD_PATH);
});

test('netdump message round trip with an offset above 2^32', () => {
  const payload = Uint8Array.from({ length: 1448 }, (_, i) => i & 0xff);
  const buf = new Uint8Array(NETDUMP_HEADER_SIZE + payload.length);
  const fields = { type: NETDUMP_VMCORE, seqno: 0xfffffffe, offset: 0x1_2345_6000, aux2: 0xa5a5a5a5 };
  assert.equal(emitNetdumpMessage(fields, payload, buf), buf.length);
  assertBytes(buf.subarray(0, 24), hex('00000003 fffffffe 00000001 23456000 000005a8 a5a5a5a5'));
  const message = parseNetdumpMessage(buf);
  assert.deepEqual({ ...message, payload: undefined }, { ...fields, len: 1448, payload: undefined });
  assertBytes(message.payload, payload);
});

test('netdump payload is a view into the datagram, not a copy', () => {
  const buf = HERALD_PAYLOAD.slice();
  const message = parseNetdumpMessage(buf);
  assert.equal(message.payload.buffer, buf.buffer);
  assert.equal(message.payload.byteOffset, buf.byteOffset + 24);
});

test('FINISHED: empty payload, exactly 24 bytes', () => {
  const buf = new Uint8Array(24);
  emitNetdumpMessage({ type: NETDUMP_FINISHED, seqno: 7, offset: 0, aux2: 0 }, new Uint8Array(0), buf);
  assertBytes(buf, hex('00000002 00000007 0000000000000000 00000000 00000000'));
  assert.equal(parseNetdumpMessage(buf).payload.length, 0);
});

test('netdump header only, emitted and parsed without the payload', () => {
  const buf = new Uint8Array(24);
  emitNetdumpHeader({ type: NETDUMP_KDH, seqno: 3, offset: 0, len: 512, aux2: 0 }, buf);
  assertBytes(buf, hex('00000004 00000003 0000000000000000 00000200 00000000'));
  assert.equal(parseNetdumpHeader(buf).len, 512);
  assertWireError(() => parseNetdumpMessage(buf), 'truncated', 'netdump');
});

test('netdumpd length rule: datagram must be exactly 24 + len', () => {
  const longer = new Uint8Array(29);
  longer.set(HERALD_PAYLOAD);
  assertWireError(() => parseNetdumpMessage(longer), 'malformed', 'netdump');
  assertWireError(() => parseNetdumpMessage(HERALD_PAYLOAD.subarray(0, 27)), 'truncated', 'netdump');
  const lenTooBig = HERALD_PAYLOAD.slice();
  lenTooBig[16] = 0xff;
  assertWireError(() => parseNetdumpMessage(lenTooBig), 'truncated', 'netdump');
});

test('unknown message types are reported, not rejected', () => {
  const buf = HERALD_PAYLOAD.slice();
  buf[3] = 42;
  assert.equal(parseNetdumpMessage(buf).type, 42);
});

test('netdump offset beyond Number.MAX_SAFE_INTEGER is a range error', () => {
  const buf = HERALD_PAYLOAD.slice();
  buf[8] = 0x80;
  assertWireError(() => parseNetdumpMessage(buf), 'range', 'netdump');
});

test('netdump emit rejects out-of-range fields and small buffers', () => {
  const buf = new Uint8Array(64);
  const ok = { type: NETDUMP_VMCORE, seqno: 1, offset: 0, aux2: 0 };
  assertWireError(() => emitNetdumpMessage({ ...ok, type: 2 ** 32 }, HERALD_PATH, buf), 'range', 'netdump');
  assertWireError(() => emitNetdumpMessage({ ...ok, seqno: -1 }, HERALD_PATH, buf), 'range', 'netdump');
  assertWireError(() => emitNetdumpMessage({ ...ok, offset: 2 ** 53 }, HERALD_PATH, buf), 'range', 'netdump');
  assertWireError(() => emitNetdumpMessage({ ...ok, aux2: 0.5 }, HERALD_PATH, buf), 'range', 'netdump');
  assertWireError(() => emitNetdumpMessage(ok, HERALD_PATH, new Uint8Array(27)), 'range', 'netdump');
  assertWireError(() => emitNetdumpHeader({ ...ok, len: 2 ** 32 }, buf), 'range', 'netdump');
});

test('ack: 4 bytes, big-endian seqno', () => {
  const buf = new Uint8Array(4);
  assert.equal(emitNetdumpAck({ seqno: 0x01020304 }, buf), 4);
  assertBytes(buf, hex('01 02 03 04'));
  assert.equal(netdumpAckSeqno(hex('00 00 00 01')), 1);
  assert.equal(netdumpAckSeqno(hex('ff ff ff ff')), 0xffffffff);
  assert.equal(netdumpAckSeqno(hex('ee ee 00 00 00 07 de ad'), 2), 7);
  const placed = new Uint8Array(8).fill(0xee);
  setNetdumpAckSeqno(placed, 2, 0xfffffffe);
  assertBytes(placed, hex('ee ee ff ff ff fe ee ee'));
  assertWireError(() => emitNetdumpAck({ seqno: 2 ** 32 }, buf), 'range', 'netdump-ack');
  assertWireError(() => emitNetdumpAck({ seqno: 1 }, buf, 1), 'range', 'netdump-ack');
});

test('field accessors read a header where it lies, with the 64-bit offset exact in two halves', () => {
  // The spec's HERALD, 42 bytes into a buffer, as in a frame.
  const frame = Buffer.concat([Buffer.alloc(42, 0xee), HERALD_PAYLOAD]);
  assert.deepEqual(
    [
      netdumpType(frame, 42),
      netdumpSeqno(frame, 42),
      netdumpOffsetHigh(frame, 42),
      netdumpOffsetLow(frame, 42),
      netdumpLen(frame, 42),
      netdumpAux2(frame, 42),
    ],
    [NETDUMP_HERALD, 1, 0, 0, 4, 0],
  );
  const far = hex('00 00 00 03 | 00 00 00 07 | ff ff ff ff ff ff f0 00 | 00 00 10 00 | 00 00 00 00');
  assert.deepEqual(
    [netdumpType(far), netdumpOffsetHigh(far), netdumpOffsetLow(far), netdumpLen(far)],
    [NETDUMP_VMCORE, 0xffffffff, 0xfffff000, 4096],
  );
  assertWireError(() => netdumpLen(far, 5), 'truncated', 'bytes');
});
