import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARP_BODY_SIZE,
  ARP_FRAME_SIZE,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  BROADCAST_MAC,
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  emitArp,
  emitArpReplyFrame,
  emitArpRequestFrame,
  emitEthernet,
  isBroadcastMac,
  parseArp,
  parseEthernet,
  parseIpv4Address,
  parseMac,
  type ArpRepr,
} from '../../src/wire/index.js';
import { assertBytes, assertWireError, hex } from './wire-helpers.js';

const CLIENT_MAC = parseMac('02:00:00:00:00:01');
const SERVER_MAC = parseMac('02:00:00:00:00:02');
const CLIENT_IP = parseIpv4Address('198.18.0.1');
const SERVER_IP = parseIpv4Address('198.18.0.2');

const ARP_REQUEST_FRAME = hex(`
  ff ff ff ff ff ff | 02 00 00 00 00 01 | 08 06
  00 01 | 08 00 | 06 | 04 | 00 01
  02 00 00 00 00 01 | c6 12 00 01
  00 00 00 00 00 00 | c6 12 00 02`);

// The server's is-at reply, padded by its NIC to the 60-byte minimum.
const ARP_REPLY_FRAME = hex(`
  02 00 00 00 00 01 | 02 00 00 00 00 02 | 08 06
  00 01 | 08 00 | 06 | 04 | 00 02
  02 00 00 00 00 02 | c6 12 00 02
  02 00 00 00 00 01 | c6 12 00 01
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);

test('Ethernet header round trip', () => {
  const buf = new Uint8Array(20).fill(0xee);
  assert.equal(emitEthernet({ dst: SERVER_MAC, src: CLIENT_MAC, etherType: ETHERTYPE_IPV4 }, buf, 2), ETHERNET_HEADER_SIZE);
  assertBytes(buf, hex('ee ee 02 00 00 00 00 02 02 00 00 00 00 01 08 00 ee ee ee ee'));
  const frame = parseEthernet(buf.subarray(2));
  assertBytes(frame.dst, SERVER_MAC);
  assertBytes(frame.src, CLIENT_MAC);
  assert.equal(frame.etherType, ETHERTYPE_IPV4);
  assert.equal(frame.payloadOffset, 14);
});

test('Ethernet parse returns copies of the MACs', () => {
  const buf = ARP_REPLY_FRAME.slice();
  const frame = parseEthernet(buf);
  buf.fill(0);
  assertBytes(frame.dst, CLIENT_MAC);
});

test('Ethernet reports a VLAN tag as its EtherType, without stripping it', () => {
  const tagged = hex('02 00 00 00 00 01 02 00 00 00 00 02 81 00 00 05 08 00');
  const frame = parseEthernet(tagged);
  assert.equal(frame.etherType, ETHERTYPE_VLAN);
  assert.equal(frame.payloadOffset, 14);
});

test('Ethernet emit rejects bad input and small buffers', () => {
  const buf = new Uint8Array(14);
  assertWireError(() => emitEthernet({ dst: new Uint8Array(5), src: CLIENT_MAC, etherType: 0x0800 }, buf), 'range');
  assertWireError(() => emitEthernet({ dst: SERVER_MAC, src: CLIENT_MAC, etherType: 0x10000 }, buf), 'range', 'ethernet');
  assertWireError(() => emitEthernet({ dst: SERVER_MAC, src: CLIENT_MAC, etherType: 0x0800 }, buf, 1), 'range', 'ethernet');
});

test('broadcast MAC', () => {
  assert.ok(isBroadcastMac(parseMac('ff:ff:ff:ff:ff:ff')));
  assert.ok(!isBroadcastMac(CLIENT_MAC));
  assertBytes(BROADCAST_MAC, hex('ff ff ff ff ff ff'));
});

test('ARP who-has frame is exactly what the kernel sends (spec §2.2)', () => {
  const buf = new Uint8Array(64);
  const written = emitArpRequestFrame({ senderMac: CLIENT_MAC, senderIp: CLIENT_IP, targetIp: SERVER_IP }, buf);
  assert.equal(written, 42);
  assert.equal(ARP_FRAME_SIZE, 42);
  assertBytes(buf.subarray(0, written), ARP_REQUEST_FRAME);
});

test('ARP reply frame: unicast to the requester', () => {
  const buf = new Uint8Array(42);
  const written = emitArpReplyFrame({ senderMac: SERVER_MAC, senderIp: SERVER_IP, targetMac: CLIENT_MAC, targetIp: CLIENT_IP }, buf);
  assert.equal(written, 42);
  assertBytes(buf, ARP_REPLY_FRAME.subarray(0, 42));
});

test('ARP reply parses, Ethernet padding ignored', () => {
  const frame = parseEthernet(ARP_REPLY_FRAME);
  assert.equal(frame.etherType, ETHERTYPE_ARP);
  const arp = parseArp(ARP_REPLY_FRAME.subarray(frame.payloadOffset));
  assert.equal(arp.op, ARP_OP_REPLY);
  assertBytes(arp.senderMac, SERVER_MAC);
  assert.equal(arp.senderIp, SERVER_IP);
  assertBytes(arp.targetMac, CLIENT_MAC);
  assert.equal(arp.targetIp, CLIENT_IP);
});

test('ARP body round trip', () => {
  const repr: ArpRepr = {
    op: ARP_OP_REQUEST,
    senderMac: CLIENT_MAC,
    senderIp: CLIENT_IP,
    targetMac: new Uint8Array(6),
    targetIp: SERVER_IP,
  };
  const buf = new Uint8Array(ARP_BODY_SIZE);
  assert.equal(emitArp(repr, buf), 28);
  assertBytes(buf, ARP_REQUEST_FRAME.subarray(ETHERNET_HEADER_SIZE));
  assert.deepEqual(parseArp(buf), repr);
});

test('ARP: anything but Ethernet/IPv4 request or reply is malformed', () => {
  const body = ARP_REQUEST_FRAME.subarray(ETHERNET_HEADER_SIZE);
  const cases: Array<[string, number, number]> = [
    ['htype 6 (IEEE 802)', 1, 0x06],
    ['ptype 0x86dd', 2, 0x86],
    ['hlen 8', 4, 8],
    ['plen 16', 5, 16],
    ['op 3 (RARP request)', 7, 3],
    ['op 0', 7, 0],
  ];
  for (const [, index, value] of cases) {
    const bad = body.slice();
    bad[index] = value;
    assertWireError(() => parseArp(bad), 'malformed', 'arp');
  }
  const opHigh = body.slice();
  opHigh[6] = 1; // op 0x0101
  assertWireError(() => parseArp(opHigh), 'malformed', 'arp');
});

test('ARP emit rejects out-of-range fields and leaves the buffer untouched', () => {
  const buf = new Uint8Array(42);
  const base = { senderMac: CLIENT_MAC, senderIp: CLIENT_IP, targetIp: SERVER_IP };
  assertWireError(() => emitArpRequestFrame({ ...base, senderIp: 0x1_0000_0000 }, buf), 'range');
  assertWireError(() => emitArpRequestFrame({ ...base, senderMac: new Uint8Array(8) }, buf), 'range');
  assert.ok(buf.every((byte) => byte === 0));
  assertWireError(() => emitArpRequestFrame(base, new Uint8Array(41)), 'range', 'arp');
  const badOp = { op: 3, senderMac: CLIENT_MAC, senderIp: 0, targetMac: CLIENT_MAC, targetIp: 0 } as unknown as ArpRepr;
  assertWireError(() => emitArp(badOp, buf), 'range', 'arp');
});
