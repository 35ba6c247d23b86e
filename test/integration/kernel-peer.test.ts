/**
 * Our Ethernet/ARP/IPv4/UDP code against a real Linux kernel in the peer
 * namespace: the kernel answers our ARP, accepts our datagrams only if both
 * checksums are right, and sends datagrams that our parser must read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PacketSocket, RxFlag } from '../../native/index.js';
import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { emitUdpFrame, parseUdpFrame } from '../helpers/udp-frames.js';
import {
  ARP_FRAME_SIZE,
  ARP_OP_REPLY,
  arpOp,
  emitArpRequestFrame,
  ETHERNET_HEADER_SIZE,
  ethernetEtherType,
  ethernetSrcIs,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseArp,
  parseIpv4,
  parseMac,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { answerArp, receiveUntil, type Station } from '../helpers/frames.js';
import { UdpPeer } from '../helpers/udp-peer.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const macHex = (mac: string) => mac.replaceAll(':', '');
const CLIENT_IP_HEX = 'c6120001'; // 198.18.0.1
const SERVER_IP_HEX = 'c6120002'; // 198.18.0.2

// The worked HERALD of spec §2.8: type 1, seq 1, offset 0, len 4, pad 0, "foo\0".
const HERALD_FOO = hex('00000001 00000001 0000000000000000 00000004 00000000 666f6f00');

describe('our stack against the Linux kernel in a peer namespace', () => {
  let hosts: TestHosts;
  let socket: PacketSocket;
  let client: Station;
  let serverMac: Uint8Array;
  let peer: UdpPeer;

  before(async () => {
    hosts = createTestHostPair();
    socket = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    client = { mac: socket.info().mac, ip: 0xc6120001 };
    serverMac = parseMac(hosts.server.mac);
    peer = await UdpPeer.start(hosts, hosts.server.ns, `${hosts.server.ip}:20023`);
  });

  after(() => {
    peer?.stop();
    socket?.close();
    hosts?.destroy();
  });

  const isFromServer = (frame: Buffer) => ethernetSrcIs(frame, serverMac);

  function udpFrame(payload: Uint8Array): Buffer {
    const frame = Buffer.alloc(UDP_PAYLOAD_OFFSET + payload.length);
    emitUdpFrame(
      { srcMac: client.mac, dstMac: serverMac, srcIp: client.ip, dstIp: 0xc6120002, srcPort: 20024, dstPort: 20023 },
      payload,
      frame,
    );
    return frame;
  }

  test('the kernel answers our ARP request, and our parser reads its reply', async () => {
    const request = Buffer.alloc(ARP_FRAME_SIZE);
    emitArpRequestFrame({ senderMac: client.mac, senderIp: client.ip, targetIp: 0xc6120002 }, request);
    socket.send(request);
    const isArpReply = (frame: Buffer) => ethernetEtherType(frame) === ETHERTYPE_ARP && arpOp(frame, ETHERNET_HEADER_SIZE) === ARP_OP_REPLY;
    const { frame, seen } = await receiveUntil(socket, isArpReply, 3000);

    const expected = hex(
      `${macHex(hosts.client.mac)} ${macHex(hosts.server.mac)} 0806` +
        `0001 0800 06 04 0002 ${macHex(hosts.server.mac)} ${SERVER_IP_HEX} ${macHex(hosts.client.mac)} ${CLIENT_IP_HEX}`,
    );
    assert.deepEqual(frame, expected);
    const reply = parseArp(frame.subarray(ETHERNET_HEADER_SIZE));
    assert.equal(reply.senderIp, 0xc6120002);
    assert.deepEqual(Buffer.from(reply.senderMac), Buffer.from(serverMac));
    assert.equal(reply.targetIp, client.ip);
    assert.deepEqual(Buffer.from(reply.targetMac), Buffer.from(client.mac));
    assert.ok(
      seen.every((f) => !ethernetSrcIs(f, client.mac)),
      'recvBatch must never return our own outgoing frames',
    );
  });

  test('a datagram from our stack reaches a kernel UDP socket with the exact payload', async () => {
    socket.send(udpFrame(HERALD_FOO));
    const message = await peer.nextMessage(3000);
    assert.deepEqual(message, { event: 'message', address: '198.18.0.1', port: 20024, data: HERALD_FOO.toString('hex') });
  });

  test('the kernel drops our datagram when either checksum is wrong', async () => {
    const badUdp = udpFrame(hex('0000000b'));
    badUdp[UDP_PAYLOAD_OFFSET - 1]! ^= 0x01; // UDP checksum, low byte
    const badIp = udpFrame(hex('0000000c'));
    badIp[ETHERNET_HEADER_SIZE + 11]! ^= 0x01; // IPv4 header checksum, low byte
    const good = udpFrame(hex('0000000d'));
    socket.sendBatch([badUdp, badIp, good]);
    const message = await peer.nextMessage(3000);
    assert.equal(message?.data, '0000000d', 'only the datagram with correct checksums arrives');
    assert.equal(await peer.nextMessage(300), undefined);
  });

  test('a datagram sent by the kernel arrives through recvBatch and parses', async () => {
    const ack = hex('00000001');
    peer.send('198.18.0.1', 20024, ack);
    const isUdpToUs = (frame: Buffer) => isFromServer(frame) && ethernetEtherType(frame) === ETHERTYPE_IPV4;
    const { frame, flags } = await receiveUntil(socket, isUdpToUs, 3000, (f) => answerArp(socket, client, f));

    // veth leaves the peer kernel's UDP checksum to offload, so it was never
    // computed; Linux says so, as a NIC's checksum flags would.
    assert.equal(flags, RxFlag.ChecksumNotReady);
    const parsed = parseUdpFrame(frame, { verifyUdpChecksum: false });
    assert.deepEqual(Buffer.from(parsed.ethernet.dst), Buffer.from(client.mac));
    assert.deepEqual(Buffer.from(parsed.ethernet.src), Buffer.from(serverMac));
    assert.equal(parsed.ipv4.src, 0xc6120002);
    assert.equal(parsed.ipv4.dst, client.ip);
    assert.equal(parsed.udp.srcPort, 20023);
    assert.equal(parsed.udp.dstPort, 20024);
    assert.equal(parsed.udp.length, 12);
    assert.deepEqual(Buffer.from(parsed.payload), ack);
    // The kernel's own header, as our parser reads it: 20 bytes, Linux's default TTL 64, UDP.
    const ip = parseIpv4(frame.subarray(ETHERNET_HEADER_SIZE));
    assert.equal(ip.headerLength, 20);
    assert.equal(ip.totalLength, 32);
    assert.equal(ip.protocol, 17);
    assert.equal(ip.ttl, 64);
  });

  test('the receive ring and recvmmsg hand over the same frame with the same flags', async () => {
    const viaRecvmmsg = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns, receiveRing: false });
    try {
      assert.equal(socket.receivesFromRing, true);
      assert.equal(viaRecvmmsg.receivesFromRing, false);
      peer.send('198.18.0.1', 20024, hex('0000000e'));
      const isUdpToUs = (frame: Buffer) => isFromServer(frame) && ethernetEtherType(frame) === ETHERTYPE_IPV4;
      const fromRing = await receiveUntil(socket, isUdpToUs, 3000, (f) => answerArp(socket, client, f));
      const fromRecvmmsg = await receiveUntil(viaRecvmmsg, isUdpToUs, 3000);
      assert.equal(fromRing.frame.length, 46);
      assert.deepEqual(fromRecvmmsg.frame, fromRing.frame);
      assert.equal(fromRing.flags, RxFlag.ChecksumNotReady);
      assert.equal(fromRecvmmsg.flags, fromRing.flags);
    } finally {
      viaRecvmmsg.close();
    }
  });

  test("with checksum offload off, the kernel's UDP checksum verifies in our parser", async () => {
    hosts.run(hosts.server.ns, 'ethtool', ['-K', hosts.server.iface, 'tx', 'off']);
    const ack = hex('00000002');
    peer.send('198.18.0.1', 20024, ack);
    const isUdpToUs = (frame: Buffer) => isFromServer(frame) && ethernetEtherType(frame) === ETHERTYPE_IPV4;
    const { frame, flags } = await receiveUntil(socket, isUdpToUs, 3000, (f) => answerArp(socket, client, f));

    assert.equal(flags & RxFlag.ChecksumNotReady, 0);
    const parsed = parseUdpFrame(frame);
    assert.notEqual(parsed.udp.checksum, 0);
    assert.deepEqual(Buffer.from(parsed.payload), ack);
    frame[frame.length - 1]! ^= 0xff;
    assert.throws(() => parseUdpFrame(frame), { code: 'EBADMSG', reason: 'checksum' });
  });
});
