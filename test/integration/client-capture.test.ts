/**
 * A whole dump captured by tcpdump on the server's link and checked field
 * by field against spec §2 (Ethernet, ARP, IPv4, UDP, netdump header) and
 * §3.3 (batches: numbered base.., at most 46 at MTU 1500, stop-and-wait).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { buildDumpHeader } from '../../src/dump/kdh.js';
import { ARP_FRAME_SIZE, foldSum, IPPROTO_UDP, ipv4PseudoHeaderSum, sumWords } from '../../src/wire/index.js';
import { holdsFinishedAck, parseCapture, type CapturedMessage, type Session } from '../helpers/capture-frames.js';
import { FakeServer } from '../helpers/fake-server.js';
import {
  assertFileBytes,
  assertStatus,
  hostArgs,
  makeTempDir,
  Netdumpd,
  paddedToBlock,
  removeDir,
  runNetdump,
  writeRandomDump,
} from '../helpers/netdump-cli.js';
import { Tcpdump } from '../helpers/pcap.js';

const DUMP_TIME = 1_700_000_000;
const MAX_PAYLOAD = 1448;
const HERALD = 1;
const FINISHED = 2;
const VMCORE = 3;
const KDH = 4;

const hex = (text: string) => Buffer.from(text.replace(/[\s:]/g, ''), 'hex');

function ipChecksumVerifies(header: Buffer): boolean {
  return foldSum(sumWords(header, 0, header.length)) === 0xffff;
}

function udpChecksumVerifies(message: CapturedMessage, src: Buffer, dst: Buffer): boolean {
  const pseudo = ipv4PseudoHeaderSum(src.readUInt32BE(0), dst.readUInt32BE(0), IPPROTO_UDP, message.datagram.length);
  return foldSum(sumWords(message.datagram, 0, message.datagram.length, pseudo)) === 0xffff;
}

/**
 * Batches by the kernel's splitting rule (spec §3.3): a buffer goes out in
 * full-size packets and one shorter last packet, so a batch ends with a
 * packet shorter than the maximum payload, or with any non-VMCORE message.
 */
function batchesByLayout(messages: CapturedMessage[]): CapturedMessage[][] {
  const batches: CapturedMessage[][] = [];
  let ended = true;
  for (const message of messages) {
    if (ended) batches.push([]);
    batches.at(-1)!.push(message);
    ended = message.type !== VMCORE || message.len < MAX_PAYLOAD;
  }
  return batches;
}

/** The runs of client packets between two server acks, in capture order. */
function runsBetweenAcks(session: Session): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  for (const frame of session.all) {
    if ('ackSeq' in frame) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else if ('type' in frame) {
      run.push(frame.seq);
    }
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

// HERALD; 5 × 64 KiB = 5 × 46 packets (45 × 1448 + 376); the 4 KiB tail in 3; KDH; FINISHED.
const DUMP_SIZE = 5 * 65536 + 1000;
const EXPECTED_BATCHES = [1, 46, 46, 46, 46, 46, 3, 1, 1];

describe('a whole dump on the wire (tcpdump on the server link)', () => {
  let hosts: TestHosts;
  let dir: string;
  let session: Session;
  let dump: Buffer;
  let kdh: Buffer;

  before(async () => {
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-client-capture-');
    const dumpDir = path.join(dir, 'dumps');
    mkdirSync(path.join(dumpDir, 'capt'), { recursive: true });
    const server = await Netdumpd.start(hosts, dumpDir);
    let capture: Tcpdump | undefined;
    try {
      capture = await Tcpdump.start(hosts, hosts.server.ns, hosts.server.iface, path.join(dir, 'dump.pcap'));
      const { file, bytes } = writeRandomDump(dir, 'dump.bin', DUMP_SIZE);
      dump = paddedToBlock(bytes);
      const args = [...hostArgs(hosts), '-p', 'capt', '--hostname', 'wire', '--panic', 'on the wire', '--dump-time', String(DUMP_TIME)];
      const result = await runNetdump([...args, hosts.client.iface, file]);
      assertStatus(result, 0);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      await capture.waitFor((pcap) => holdsFinishedAck(pcap, hosts), 5000, 'the ack of FINISHED');
      const pcap = await capture.stop();
      assert.equal(capture.droppedByKernel, 0, capture.stderr);
      session = parseCapture(pcap, hosts);
      assertFileBytes(path.join(dumpDir, 'capt', 'vmcore.198.18.0.1.0'), dump);
      kdh = Buffer.from(
        buildDumpHeader({
          dumpLength: bytes.length,
          hostname: 'wire',
          panicString: 'on the wire',
          dumpTime: DUMP_TIME,
          profile: 'freebsd13',
        }),
      );
    } finally {
      capture?.kill();
      await server.stop();
    }
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  test('the first frame is the broadcast ARP who-has for the server, with the fields of spec §2.2', () => {
    const first = session.all[0]!;
    assert.ok('arp' in first, `the first frame is not ARP: ${JSON.stringify(first)}`);
    const clientMac = hosts.client.mac;
    // dst ff:..:ff, src NIC MAC, 0x0806 | htype 1, ptype 0x0800, hlen 6, plen 4, op 1,
    // sender MAC/IP = ours, target MAC 0, target IP = the server's.
    const expected = hex(`ffffffffffff ${clientMac} 0806 0001 0800 06 04 0001 ${clientMac} c6120001 000000000000 c6120002`);
    assert.deepEqual(first.frame.subarray(0, ARP_FRAME_SIZE), expected);
    assert.ok(
      first.frame.subarray(ARP_FRAME_SIZE).every((byte) => byte === 0),
      'anything past the ARP body is zero padding',
    );
    const clientArps = session.arps.filter((arp) => arp.srcMac === clientMac && arp.arp.op === 1);
    assert.equal(clientArps.length, 1, 'one request: the server answered the first');
  });

  test('every client frame: our MAC to the server MAC, IPv4 ID 0, DF, TTL 255, TOS 0, IHL 5, both checksums right', () => {
    const src = hex('c6120001');
    const dst = hex('c6120002');
    assert.ok(session.messages.length > 0);
    for (const message of session.messages) {
      const where = `message seq ${message.seq} (frame ${message.index})`;
      assert.equal(message.dstMac, hosts.server.mac, where);
      assert.equal(message.srcMac, hosts.client.mac, where);
      assert.equal(message.etherType, 0x0800, where);
      assert.equal(message.versionIhl, 0x45, where);
      assert.equal(message.tos, 0, where);
      assert.equal(message.id, 0, where);
      assert.equal(message.flagsFragment, 0x4000, where);
      assert.equal(message.ttl, 255, where);
      assert.equal(message.protocol, 17, where);
      assert.equal(message.totalLength, 20 + 8 + 24 + message.len, where);
      assert.equal(message.frameLength, 14 + message.totalLength, `${where}: nothing after the IP packet`);
      assert.ok(ipChecksumVerifies(message.ipHeader), `${where}: IP header checksum 0x${message.ipChecksum.toString(16)}`);
      assert.equal(message.udpLength, 8 + 24 + message.len, where);
      assert.notEqual(message.udpChecksum, 0, `${where}: the UDP checksum is computed`);
      assert.ok(udpChecksumVerifies(message, src, dst), `${where}: UDP checksum 0x${message.udpChecksum.toString(16)}`);
      assert.equal(message.srcPort, 20024, where);
    }
  });

  test('the herald goes to 20023, everything after it to the port its ack came from', () => {
    const [herald, ...rest] = session.messages;
    assert.equal(herald!.type, HERALD);
    assert.equal(herald!.dstPort, 20023);
    const heraldAck = session.acks.find((ack) => ack.ackSeq === 1)!;
    assert.ok(heraldAck.index > herald!.index);
    assert.equal(heraldAck.dstPort, 20024);
    assert.notEqual(heraldAck.srcPort, 20023, 'netdumpd acks from a fresh port');
    assert.ok(rest.length > 0);
    for (const message of rest) assert.equal(message.dstPort, heraldAck.srcPort, `seq ${message.seq}`);
  });

  test('netdump headers: seq 1, 2, … in order; HERALD, VMCORE…, KDH, FINISHED; offsets and data match the dump; aux2 0', () => {
    const { messages } = session;
    assert.deepEqual(
      messages.map((message) => message.seq),
      messages.map((_, index) => index + 1),
      'consecutive from 1, each sent once (a loss-free link)',
    );
    const types = messages.map((message) => message.type);
    const dataCount = types.filter((type) => type === VMCORE).length;
    assert.deepEqual(types, [HERALD, ...Array<number>(dataCount).fill(VMCORE), KDH, FINISHED]);
    for (const message of messages) {
      assert.equal(message.aux2, 0, `seq ${message.seq}`);
      assert.equal(message.data.length, message.len, `seq ${message.seq}: exactly len payload bytes`);
      assert.ok(message.len <= MAX_PAYLOAD, `seq ${message.seq}: payload ${message.len} > ${MAX_PAYLOAD}`);
    }
    const [herald] = messages;
    assert.equal(herald!.offset, 0n);
    assert.deepEqual(herald!.data, Buffer.from('capt\0'));

    let offset = 0;
    for (const message of messages.filter((candidate) => candidate.type === VMCORE)) {
      assert.equal(message.offset, BigInt(offset), `seq ${message.seq}`);
      assert.deepEqual(message.data, dump.subarray(offset, offset + message.len), `seq ${message.seq}: data at offset ${offset}`);
      offset += message.len;
    }
    assert.equal(offset, dump.length, 'the data covers the padded dump exactly');
    const kdhMessage = messages.at(-2)!;
    assert.equal(kdhMessage.offset, 0n);
    assert.deepEqual(kdhMessage.data, kdh);
    const finished = messages.at(-1)!;
    assert.equal(finished.offset, 0n);
    assert.equal(finished.len, 0);
  });

  test('batches: at most 46 packets, numbered base, base+1, …, the next sent only after every ack of the last', () => {
    const batches = batchesByLayout(session.messages);
    assert.deepEqual(
      batches.map((batch) => batch.length),
      EXPECTED_BATCHES,
    );
    let base = 1;
    for (const batch of batches) {
      assert.ok(batch.length <= 46);
      assert.deepEqual(
        batch.map((message) => message.seq),
        batch.map((_, index) => base + index),
      );
      if (batch[0]!.type === VMCORE) assert.equal(batch[0]!.offset % 65536n, 0n, 'a 64 KiB batch starts on a 64 KiB boundary');
      // Stop-and-wait: netdumpd sent the ack of every earlier packet before this batch reached it.
      const first = batch[0]!;
      const ackedBefore = new Set(session.acks.filter((ack) => ack.index < first.index).map((ack) => ack.ackSeq));
      for (let seq = 1; seq < base; seq++) assert.ok(ackedBefore.has(seq), `seq ${seq} was acked before seq ${first.seq} was sent`);
      base += batch.length;
    }
    assert.equal(session.acks.length, session.messages.length, 'netdumpd acked every packet once');
  });
});

describe('batches go out back to back (tcpdump on the server link, a server that holds its acks)', () => {
  let hosts: TestHosts;
  let dir: string;

  before(() => {
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-client-batches-');
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  test('with the acks held until the link is quiet for 200 ms, the runs of packets between acks are the batches', async () => {
    // Long enough that a batch sent back to back is never split by a pause of the client, the UDP peer or
    // this process on a loaded machine; short against the client's 1 s rounds (polls 2000), so nothing is resent.
    const server = await FakeServer.start(hosts, { holdAcksMs: 200 });
    let capture: Tcpdump | undefined;
    try {
      capture = await Tcpdump.start(hosts, hosts.server.ns, hosts.server.iface, path.join(dir, 'batches.pcap'));
      const { file } = writeRandomDump(dir, 'dump.bin', DUMP_SIZE);
      const result = await runNetdump([...hostArgs(hosts), hosts.client.iface, file]);
      assertStatus(result, 0);
      await capture.waitFor((pcap) => holdsFinishedAck(pcap, hosts), 5000, 'the ack of FINISHED');
      const pcap = await capture.stop();
      assert.equal(capture.droppedByKernel, 0, capture.stderr);
      const session = parseCapture(pcap, hosts);
      const runs = runsBetweenAcks(session);
      assert.deepEqual(
        runs.map((run) => run.length),
        EXPECTED_BATCHES,
        `runs between acks: ${runs.map((run) => `${run[0]}..${run.at(-1)}`).join(' ')}`,
      );
      let base = 1;
      for (const run of runs) {
        assert.deepEqual(
          run,
          run.map((_, index) => base + index),
        );
        base += run.length;
      }
    } finally {
      capture?.kill();
      server.stop();
    }
  });
});
