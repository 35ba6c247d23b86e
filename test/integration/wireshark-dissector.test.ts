/**
 * The Wireshark dissector (wireshark/freebsd-netdump.lua) read by Debian's
 * tshark: real dumps through our server, captured by the client's --pcap,
 * decode frame by frame into the fields our own wire layer reads from the
 * same capture (type, sequence number, offset, length, aux2, acks, the
 * herald path, every KDH field, the EKCD key), and frames made bad on
 * purpose carry the dissector's warnings.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import {
  emitNetdumpMessage,
  KDH_HOSTNAME_OFFSET,
  NETDUMP_ACKPORT,
  NETDUMP_HERALD,
  NETDUMP_EKCD_KEY,
  NETDUMP_HEADER_SIZE,
  NETDUMP_KDH,
  NETDUMP_PORT,
  NETDUMP_VMCORE,
  parseKerneldumpHeader,
  parseIpv4Address,
  parseKerneldumpKey,
  parseMac,
  setNetdumpLen,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { parseCapture, type Session } from '../helpers/capture-frames.js';
import { assertStatus, hostArgs, makeTempDir, Netdumpd, removeDir, runNetdump } from '../helpers/netdump-cli.js';
import { LINKTYPE_ETHERNET, parsePcap, readPcap } from '../helpers/pcap.js';
import { emitUdpFrame } from '../helpers/udp-frames.js';
import { requireTool } from '../helpers/tools.js';

const DISSECTOR = fileURLToPath(new URL('../../../wireshark/freebsd-netdump.lua', import.meta.url));
const MESSAGE_FIELDS = ['type', 'seqno', 'offset', 'len', 'aux2'].map((name) => `fbsd_netdump.${name}`);
const KDH_FIELDS = [
  'magic',
  'architecture',
  'version',
  'architectureversion',
  'dumplength',
  'dumptime',
  'dumpkeysize',
  'blocksize',
  'hostname',
  'versionstring',
  'panicstring',
  'compression',
  'dumpextent',
  'parity',
  'parity_ok',
].map((name) => `fbsd_netdump.kdh.${name}`);
const KEY_FIELDS = ['encryption', 'iv', 'encryptedkeysize', 'encryptedkey'].map((name) => `fbsd_netdump.ekcd.${name}`);

/** tshark's -T fields output: one array of column values per frame that `filter` selects. */
function tsharkFields(capture: string, filter: string, fields: string[]): string[][] {
  const args = ['-r', capture, '-X', `lua_script:${DISSECTOR}`, '-Y', filter, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f'];
  for (const field of ['frame.number', ...fields]) args.push('-e', field);
  const output = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return output
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

/** A classic little-endian pcap of Ethernet frames, all stamped at time 0. */
function pcapOf(frames: Buffer[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const records = frames.map((frame) => {
    const record = Buffer.alloc(16);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    return Buffer.concat([record, frame]);
  });
  return Buffer.concat([header, ...records]);
}

/** tshark prints a string field's control characters escaped, as C does. */
const asTsharkText = (text: string): string => text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const hex32 = (value: number): string => `0x${value.toString(16).padStart(8, '0')}`;

describe('the Wireshark dissector, run by tshark on our captures', () => {
  let hosts: TestHosts;
  let dir: string;
  let publicKeyFile: string;
  const captures: Record<string, { file: string; session: Session }> = {};

  before(async () => {
    await requireTool('tshark', 'tshark');
    hosts = createTestHostPair();
    hosts.pinClientNeighbour(); // 12.x drops the server kernel's broadcast ARP for us (spec §3.5)
    dir = makeTempDir('netdump-dissector-');
    const dumpFile = path.join(dir, 'dump.bin');
    writeFileSync(dumpFile, Buffer.from(Array.from({ length: 200_003 }, (_, index) => (index * 7) & 0xff)));
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    publicKeyFile = path.join(dir, 'public.pem');
    writeFileSync(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    const dumpDir = path.join(dir, 'dumps');
    mkdirSync(path.join(dumpDir, 'crash'), { recursive: true });
    const server = await Netdumpd.start(hosts, dumpDir);
    try {
      const runs = {
        freebsd13: ['--profile', 'freebsd13', '-p', 'crash', '-k', publicKeyFile, '-C', 'chacha20'],
        freebsd12: ['--profile', 'freebsd12'],
      };
      for (const [name, args] of Object.entries(runs)) {
        const file = path.join(dir, `${name}.pcap`);
        assertStatus(await runNetdump([...hostArgs(hosts), ...args, '--pcap', file, hosts.client.iface, dumpFile]), 0);
        captures[name] = { file, session: parseCapture(readPcap(file), hosts) };
      }
    } finally {
      await server.stop();
    }
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  for (const profile of ['freebsd13', 'freebsd12']) {
    test(`${profile}: every message's type, seqno, offset, len and aux2, and every ack, as our wire layer reads them`, () => {
      const { file, session } = captures[profile]!;
      const frameOf = (index: number) => String(index + 1);
      const expectedMessages = session.messages.map((m) => [
        frameOf(m.index),
        ...[m.type, m.seq, m.offset, m.len].map(String),
        hex32(m.aux2),
      ]);
      assert.deepEqual(tsharkFields(file, 'fbsd_netdump.type', MESSAGE_FIELDS), expectedMessages);
      const expectedAcks = session.acks.map((ack) => [frameOf(ack.index), String(ack.ackSeq)]);
      assert.deepEqual(tsharkFields(file, 'fbsd_netdump.ack.seqno', ['fbsd_netdump.ack.seqno']), expectedAcks);
      assert.ok(session.messages.some((m) => m.type === NETDUMP_VMCORE) && expectedAcks.length === session.messages.length);
      assert.deepEqual(tsharkFields(file, 'fbsd_netdump.short || fbsd_netdump.len_mismatch || fbsd_netdump.kdh.bad_parity', []), []);
    });

    test(`${profile}: the kernel dump header, field by field, with its parity`, () => {
      const { file, session } = captures[profile]!;
      const message = session.messages.find((m) => m.type === NETDUMP_KDH)!;
      const kdh = parseKerneldumpHeader(message.data);
      const expected = [
        kdh.magic,
        kdh.architecture,
        kdh.version,
        kdh.architectureVersion,
        kdh.dumpLength,
        kdh.dumpTime,
        kdh.dumpKeySize,
        kdh.blockSize,
        kdh.hostname,
        asTsharkText(kdh.versionString),
        kdh.panicString,
        kdh.compression,
        kdh.dumpExtent,
        hex32(kdh.parity),
        '1',
      ].map(String);
      assert.deepEqual(tsharkFields(file, 'fbsd_netdump.type == 4', KDH_FIELDS), [[String(message.index + 1), ...expected]]);
    });
  }

  test('freebsd13: the herald path and the EKCD key', () => {
    const { file, session } = captures.freebsd13!;
    assert.deepEqual(tsharkFields(file, 'fbsd_netdump.type == 1', ['fbsd_netdump.herald.path']), [['3', 'crash']]);
    const message = session.messages.find((m) => m.type === NETDUMP_EKCD_KEY && m.offset === 0n)!;
    const key = parseKerneldumpKey(message.data);
    assert.deepEqual(tsharkFields(file, 'fbsd_netdump.type == 5 && fbsd_netdump.offset == 0', KEY_FIELDS), [
      [String(message.index + 1), String(key.encryption), hex(key.iv), String(key.encryptedKey.length), hex(key.encryptedKey)],
    ]);
  });

  test('a VMCORE whose len field lies and a KDH whose parity fails carry the warnings', () => {
    const { file, session } = captures.freebsd13!;
    const pcap = readFileSync(file);
    const vmcore = session.messages.find((m) => m.type === NETDUMP_VMCORE)!;
    const kdh = session.messages.find((m) => m.type === NETDUMP_KDH)!;
    // The records' frames are views into `pcap`: editing them edits the file's bytes.
    const { records } = parsePcap(pcap);
    setNetdumpLen(records[vmcore.index]!.data, UDP_PAYLOAD_OFFSET, vmcore.len - 1);
    records[kdh.index]!.data[UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE + KDH_HOSTNAME_OFFSET]! ^= 0x01;
    const edited = path.join(dir, 'edited.pcap');
    writeFileSync(edited, pcap);
    assert.deepEqual(tsharkFields(edited, 'fbsd_netdump.len_mismatch', []), [[String(vmcore.index + 1)]]);
    assert.deepEqual(tsharkFields(edited, 'fbsd_netdump.kdh.bad_parity', ['fbsd_netdump.kdh.parity_ok']), [[String(kdh.index + 1), '0']]);
  });

  test('a message shorter than its header and an ack shorter than 4 bytes are marked short; a path without NUL ends with the datagram', () => {
    const addressing = {
      srcMac: parseMac(hosts.client.mac),
      dstMac: parseMac(hosts.server.mac),
      srcIp: parseIpv4Address(hosts.client.ip),
      dstIp: parseIpv4Address(hosts.server.ip),
    };
    const cutHerald = Buffer.alloc(UDP_PAYLOAD_OFFSET + 6);
    emitUdpFrame({ ...addressing, srcPort: NETDUMP_ACKPORT, dstPort: NETDUMP_PORT }, Buffer.from([0, 0, 0, 1, 0, 0]), cutHerald);
    const cutAck = Buffer.alloc(UDP_PAYLOAD_OFFSET + 2);
    const reverse = { srcMac: addressing.dstMac, dstMac: addressing.srcMac, srcIp: addressing.dstIp, dstIp: addressing.srcIp };
    emitUdpFrame({ ...reverse, srcPort: 40000, dstPort: NETDUMP_ACKPORT }, Buffer.from([0, 7]), cutAck);
    // A herald whose path has no NUL: the path ends with the datagram, not past it.
    const heraldPayload = Buffer.alloc(NETDUMP_HEADER_SIZE + 3);
    emitNetdumpMessage({ type: NETDUMP_HERALD, seqno: 1, offset: 0, aux2: 0 }, Buffer.from('abc'), heraldPayload);
    const unterminated = Buffer.alloc(UDP_PAYLOAD_OFFSET + heraldPayload.length);
    emitUdpFrame({ ...addressing, srcPort: NETDUMP_ACKPORT, dstPort: NETDUMP_PORT }, heraldPayload, unterminated);
    const file = path.join(dir, 'short.pcap');
    writeFileSync(file, pcapOf([cutHerald, cutAck, unterminated]));
    assert.deepEqual(tsharkFields(file, 'fbsd_netdump.herald.path', ['fbsd_netdump.herald.path']), [['3', 'abc']]);
    assert.deepEqual(tsharkFields(file, 'fbsd_netdump.short', ['fbsd_netdump.type', 'fbsd_netdump.ack.seqno']), [
      ['1', '', ''],
      ['2', '', ''],
    ]);
  });
});
