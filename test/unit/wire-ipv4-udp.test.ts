import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IPPROTO_UDP,
  IPV4_HEADER_SIZE,
  UDP_HEADER_SIZE,
  emitIpv4,
  emitUdp,
  parseIpv4,
  parseIpv4Address,
  parseUdp,
  type Ipv4EmitRepr,
} from '../../src/wire/index.js';
import { assertBytes, assertWireError, hex } from './wire-helpers.js';

const CLIENT_IP = parseIpv4Address('198.18.0.1');
const SERVER_IP = parseIpv4Address('198.18.0.2');

// An ack as a Linux server sends it (198.18.0.2:33000 -> 198.18.0.1:20024,
// ID 0x1234, DF, TTL 64), then 14 bytes of Ethernet padding.
// Checksums computed once with python3, independently of our code.
const ACK_PACKET_PADDED = hex(`
  45 00 00 20 12 34 40 00 40 11 9c 71 c6 12 00 02 c6 12 00 01
  80 e8 4e 38 00 0c a4 8c 00 00 00 01
  00 00 00 00 00 00 00 00 00 00 00 00 00 00`);

// The same ack with a 4-byte option (three NOPs and an end-of-options).
const ACK_PACKET_WITH_OPTIONS = hex(`
  46 00 00 24 12 34 40 00 40 11 99 6c c6 12 00 02 c6 12 00 01 01 01 01 00
  80 e8 4e 38 00 0c a4 8c 00 00 00 01`);

const HERALD_IP_HEADER = hex('45 00 00 38 00 00 40 00 ff 11 ef 8c c6 12 00 01 c6 12 00 02');

function kernelHeader(totalLength: number): Ipv4EmitRepr {
  return {
    tos: 0,
    totalLength,
    id: 0,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 255,
    protocol: IPPROTO_UDP,
    src: CLIENT_IP,
    dst: SERVER_IP,
  };
}

test('IPv4 emit: the kernel header of spec §2.3, checksum included', () => {
  const buf = new Uint8Array(20);
  assert.equal(emitIpv4(kernelHeader(56), buf), IPV4_HEADER_SIZE);
  assertBytes(buf, HERALD_IP_HEADER);
});

test('IPv4 parse: fields, checksum verified, trailing Ethernet padding ignored', () => {
  const ip = parseIpv4(ACK_PACKET_PADDED);
  assert.deepEqual(ip, {
    tos: 0,
    totalLength: 32,
    id: 0x1234,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: IPPROTO_UDP,
    src: SERVER_IP,
    dst: CLIENT_IP,
    headerLength: 20,
  });
  const heraldPacket = new Uint8Array(56);
  heraldPacket.set(HERALD_IP_HEADER);
  assert.deepEqual(parseIpv4(heraldPacket), { ...kernelHeader(56), headerLength: 20 });
});

test('IPv4 parse reports options through headerLength', () => {
  const ip = parseIpv4(ACK_PACKET_WITH_OPTIONS);
  assert.equal(ip.headerLength, 24);
  assert.equal(ip.totalLength, 36);
});

test('IPv4: a corrupted byte fails the checksum unless verification is off', () => {
  for (const index of [1, 5, 8, 10, 15, 19]) {
    const bad = ACK_PACKET_PADDED.slice();
    bad[index]! ^= 0x01;
    assertWireError(() => parseIpv4(bad), 'checksum', 'ipv4');
  }
  const bad = ACK_PACKET_PADDED.slice();
  bad[8] = 1; // TTL
  assert.equal(parseIpv4(bad, { verifyChecksum: false }).ttl, 1);
});

test('IPv4: version other than 4 is malformed', () => {
  const bad = ACK_PACKET_PADDED.slice();
  bad[0] = 0x65;
  assertWireError(() => parseIpv4(bad), 'malformed', 'ipv4');
  bad[0] = 0x05;
  assertWireError(() => parseIpv4(bad), 'malformed', 'ipv4');
});

test('IPv4: IHL below 5 is malformed', () => {
  for (const ihl of [0, 1, 4]) {
    const bad = ACK_PACKET_PADDED.slice();
    bad[0] = 0x40 | ihl;
    assertWireError(() => parseIpv4(bad), 'malformed', 'ipv4');
  }
});

test('IPv4: header longer than the buffer is truncated', () => {
  const bad = ACK_PACKET_PADDED.slice(0, 32);
  bad[0] = 0x4f; // 60-byte header
  assertWireError(() => parseIpv4(bad), 'truncated', 'ipv4');
});

test('IPv4: total length beyond the buffer is truncated, below the header malformed', () => {
  const long = ACK_PACKET_PADDED.slice();
  long[3] = 47; // one more than the 46 bytes we have
  assertWireError(() => parseIpv4(long, { verifyChecksum: false }), 'truncated', 'ipv4');
  const short = ACK_PACKET_PADDED.slice();
  short[3] = 19;
  assertWireError(() => parseIpv4(short, { verifyChecksum: false }), 'malformed', 'ipv4');
});

test('IPv4: fragment fields', () => {
  const buf = new Uint8Array(20);
  emitIpv4({ ...kernelHeader(20), dontFragment: false, moreFragments: true, fragmentOffset: 0x1fff }, buf);
  assertBytes(buf.subarray(6, 8), hex('3f ff'));
  const ip = parseIpv4(buf);
  assert.equal(ip.moreFragments, true);
  assert.equal(ip.dontFragment, false);
  assert.equal(ip.fragmentOffset, 0x1fff);
});

test('IPv4 emit rejects out-of-range fields and small buffers', () => {
  const buf = new Uint8Array(20);
  const cases: Array<Partial<Ipv4EmitRepr>> = [
    { tos: 256 },
    { totalLength: 19 },
    { totalLength: 65536 },
    { id: -1 },
    { fragmentOffset: 0x2000 },
    { ttl: 256 },
    { protocol: 1.5 },
    { src: 0x1_0000_0000 },
    { headerLength: 24 },
  ];
  for (const change of cases) {
    assertWireError(() => emitIpv4({ ...kernelHeader(56), ...change }, buf), 'range');
  }
  assert.equal(emitIpv4({ ...kernelHeader(56), headerLength: 20 }, buf), 20);
  assertWireError(() => emitIpv4(kernelHeader(56), new Uint8Array(19)), 'range', 'ipv4');
});

test('UDP parse: fields and checksum over the pseudo-header', () => {
  const udp = ACK_PACKET_PADDED.subarray(20, 32);
  const pseudo = { src: SERVER_IP, dst: CLIENT_IP };
  assert.deepEqual(parseUdp(udp, pseudo), { srcPort: 33000, dstPort: 20024, length: 12, checksum: 0xa48c });
  // Swapping src and dst leaves the sum unchanged; a different address does not.
  assertWireError(() => parseUdp(udp, { src: SERVER_IP + 1, dst: CLIENT_IP }), 'checksum', 'udp');
});

test('UDP: a bad checksum is rejected; without addresses it is not checked', () => {
  const bad = ACK_PACKET_PADDED.slice(20, 32);
  bad[11] = 2; // ack seq 1 -> 2
  assertWireError(() => parseUdp(bad, { src: SERVER_IP, dst: CLIENT_IP }), 'checksum', 'udp');
  assert.equal(parseUdp(bad).checksum, 0xa48c);
});

test('UDP: checksum 0 means "none" in IPv4 and is not verified', () => {
  const noChecksum = ACK_PACKET_PADDED.slice(20, 32);
  noChecksum[6] = 0;
  noChecksum[7] = 0;
  assert.equal(parseUdp(noChecksum, { src: SERVER_IP, dst: CLIENT_IP }).checksum, 0);
});

test('UDP: length field below 8 is malformed, beyond the data truncated', () => {
  for (const length of [0, 7]) {
    const bad = ACK_PACKET_PADDED.slice(20, 32);
    bad[5] = length;
    assertWireError(() => parseUdp(bad), 'malformed', 'udp');
  }
  const long = ACK_PACKET_PADDED.slice(20, 32);
  long[5] = 13;
  assertWireError(() => parseUdp(long), 'truncated', 'udp');
  const huge = ACK_PACKET_PADDED.slice(20, 32);
  huge[4] = 0xff;
  assertWireError(() => parseUdp(huge), 'truncated', 'udp');
});

test('UDP: bytes after the length field are ignored, and not checksummed', () => {
  const longer = new Uint8Array(16);
  longer.set(ACK_PACKET_PADDED.subarray(20, 32));
  longer.set([9, 9, 9, 9], 12);
  assert.equal(parseUdp(longer, { src: SERVER_IP, dst: CLIENT_IP }).length, 12);
});

test('UDP emit: a computed checksum of 0 is sent as 0xffff (spec §2.4)', () => {
  // Payload d7 42 makes the ones'-complement sum of pseudo-header + datagram
  // 0xffff (found once by a python3 search), so the checksum computes to 0.
  const buf = hex('00 00 00 00 00 00 00 00 d7 42');
  const pseudo = { src: CLIENT_IP, dst: SERVER_IP };
  assert.equal(emitUdp({ srcPort: 20024, dstPort: 20023, length: 10 }, buf, 0, pseudo), UDP_HEADER_SIZE);
  assertBytes(buf, hex('4e 38 4e 37 00 0a ff ff d7 42'));
  assert.equal(parseUdp(buf, pseudo).checksum, 0xffff);
});

test('UDP emit: checksum over header and the payload already in place', () => {
  const buf = new Uint8Array(40);
  buf.set(hex('00 00 00 01'), 28);
  emitUdp({ srcPort: 33000, dstPort: 20024, length: 12 }, buf, 20, { src: SERVER_IP, dst: CLIENT_IP });
  assertBytes(buf.subarray(20, 32), ACK_PACKET_PADDED.subarray(20, 32));
});

test('UDP emit rejects out-of-range fields and payloads that do not fit', () => {
  const buf = new Uint8Array(16);
  const pseudo = { src: CLIENT_IP, dst: SERVER_IP };
  assertWireError(() => emitUdp({ srcPort: 65536, dstPort: 1, length: 8 }, buf, 0, pseudo), 'range', 'udp');
  assertWireError(() => emitUdp({ srcPort: 1, dstPort: -1, length: 8 }, buf, 0, pseudo), 'range', 'udp');
  assertWireError(() => emitUdp({ srcPort: 1, dstPort: 1, length: 7 }, buf, 0, pseudo), 'range', 'udp');
  assertWireError(() => emitUdp({ srcPort: 1, dstPort: 1, length: 17 }, buf, 0, pseudo), 'range', 'udp');
  assertWireError(() => emitUdp({ srcPort: 1, dstPort: 1, length: 8 }, buf, 9, pseudo), 'range', 'udp');
  assertWireError(() => emitUdp({ srcPort: 1, dstPort: 1, length: 8 }, buf, 0, { src: -1, dst: 0 }), 'range');
});
