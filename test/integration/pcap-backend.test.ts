/**
 * The pcap backend (libpcap, built into the addon) against the AF_PACKET
 * one: the same end-to-end dump through the CLI with --backend afpacket and
 * --backend pcap, byte for byte; the interface never turns promiscuous; a
 * missing or down interface fails clearly; our own transmits never come
 * back through recvBatch.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { PacketSocket, PcapSocket, pcapVersion } from '../../native/index.js';
import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { assertNetdumpError } from '../helpers/assertions.js';
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
import { ETHERNET_HEADER_SIZE, ethernetEtherType, setEthernetDst, setEthernetEtherType, setEthernetSrc } from '../../src/wire/index.js';

const CLIENT = '198.18.0.1';
/** IEEE 802 local experimental EtherType: nothing else on the link speaks it. */
const ETHERTYPE_TEST = 0x88b5;

interface LinkState {
  promisc: boolean;
  promiscuity: number;
}

/** IFF_PROMISC and the kernel's promiscuity count of a link, from `ip -d -j link show`. */
function linkState(ns: string, iface: string): LinkState {
  const [link] = JSON.parse(execFileSync('ip', ['-n', ns, '-d', '-j', 'link', 'show', 'dev', iface], { encoding: 'utf8' })) as Array<{
    flags: string[];
    promiscuity: number;
  }>;
  assert.ok(link, `no link ${iface} in ${ns}`);
  return { promisc: link.flags.includes('PROMISC'), promiscuity: link.promiscuity };
}

/** Ethernet's shortest frame, its CRC left out. */
const MIN_FRAME_SIZE = 60;

function testFrame(dst: Uint8Array, src: Uint8Array, marker: string): Buffer {
  const frame = Buffer.alloc(MIN_FRAME_SIZE);
  setEthernetDst(frame, 0, dst);
  setEthernetSrc(frame, 0, src);
  setEthernetEtherType(frame, 0, ETHERTYPE_TEST);
  frame.write(marker, ETHERNET_HEADER_SIZE, 'latin1');
  return frame;
}

const MARKER_SIZE = 8;
const markerOf = (frame: Buffer) =>
  ethernetEtherType(frame) === ETHERTYPE_TEST
    ? frame.toString('latin1', ETHERNET_HEADER_SIZE, ETHERNET_HEADER_SIZE + MARKER_SIZE)
    : undefined;

/** Collects the test frames a socket receives until `done` says so (event-driven), or rejects on timeout. */
function collect(
  socket: { recvBatch(max: number): Buffer[]; onReadable(callback: () => void): void; stopWatching(): void },
  done: (markers: string[]) => boolean,
  timeoutMs: number,
): Promise<string[]> {
  const markers: string[] = [];
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.stopWatching();
      if (error) reject(error);
      else resolve(markers);
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms; received ${JSON.stringify(markers)}`)), timeoutMs);
    const drain = () => {
      for (;;) {
        const frames = socket.recvBatch(64);
        for (const frame of frames) {
          const marker = markerOf(frame);
          if (marker !== undefined) markers.push(marker);
        }
        if (frames.length < 64) break;
      }
      if (done(markers)) finish();
    };
    socket.onReadable(drain);
    drain();
  });
}

describe('pcap backend', () => {
  let hosts: TestHosts;
  let dir: string;

  before(() => {
    assert.ok(pcapVersion !== null, 'the addon was built without libpcap: install libpcap-dev and run npm run build');
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-pcap-backend-');
    // A second veth pair inside the client namespace, left down.
    execFileSync('ip', ['-n', hosts.client.ns, 'link', 'add', 'ndpdown0', 'type', 'veth', 'peer', 'name', 'ndpdown1']);
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  for (const backend of ['afpacket', 'pcap'] as const) {
    test(`--backend ${backend}: a file dump lands byte for byte, and the interface stays unpromiscuous`, async () => {
      const dumpDir = path.join(dir, backend);
      mkdirSync(dumpDir);
      const server = await Netdumpd.start(hosts, dumpDir);
      const states: LinkState[] = [linkState(hosts.client.ns, hosts.client.iface)];
      const sampler = setInterval(() => states.push(linkState(hosts.client.ns, hosts.client.iface)), 25);
      try {
        const { file, bytes } = writeRandomDump(dir, `${backend}.bin`, 2 ** 20 + 7);
        const result = await runNetdump([...hostArgs(hosts), '--backend', backend, hosts.client.iface, file], {
          // Once the dump is under way the handle is surely open: sample then too.
          onStdout: () => states.push(linkState(hosts.client.ns, hosts.client.iface)),
        });
        clearInterval(sampler);
        states.push(linkState(hosts.client.ns, hosts.client.iface));
        assertStatus(result, 0);
        assert.match(result.stdout, /\nnetdump finished\.\n/);
        assert.match(
          result.stdout,
          new RegExp(`; driver generic over ${backend}; peak memory \\d+ MiB\n$`),
          'the summary names the shim chosen for veth, and the backend',
        );
        assert.equal(result.stderr, '');
        await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
        assertFileBytes(path.join(dumpDir, `vmcore.${CLIENT}.0`), paddedToBlock(bytes));
        const info = execFileSync('cat', [path.join(dumpDir, `info.${CLIENT}.0`)], { encoding: 'utf8' });
        assert.ok(info.endsWith('Dump complete\n'), info);
        assert.ok(states.length >= 3, `only ${states.length} samples of the link`);
        for (const state of states) assert.deepEqual(state, { promisc: false, promiscuity: 0 });
      } finally {
        clearInterval(sampler);
        await server.stop();
      }
    });
  }

  test('--backend with an unknown name is a usage error', async () => {
    const result = await runNetdump([...hostArgs(hosts), '--backend', 'bpf', hosts.client.iface, '/dev/null']);
    assertStatus(result, 2);
    assert.match(result.stderr, /^netdump: --backend must be one of afpacket, pcap, not 'bpf'\n/);
  });

  test('a missing interface: ENODEV, from the class and from the CLI', async () => {
    assertNetdumpError(() => PcapSocket.open('nosuch0', { netns: hosts.client.ns }), 'ENODEV', /^no such interface: nosuch0 /);
    const { file } = writeRandomDump(dir, 'missing-iface.bin', 4096);
    const result = await runNetdump([...hostArgs(hosts), '--backend', 'pcap', 'nosuch0', file]);
    assertStatus(result, 1);
    assert.match(result.stderr, /^netdump: no such interface: nosuch0 /);
  });

  test('an interface that is down: ENETDOWN', () => {
    assertNetdumpError(
      () => PcapSocket.open('ndpdown0', { netns: hosts.client.ns }),
      'ENETDOWN',
      /^interface ndpdown0 is down: bring it up first/,
    );
  });

  test('a missing network namespace, and a bad interface name', () => {
    assertNetdumpError(() => PcapSocket.open('lo', { netns: 'ndt-no-such-namespace' }), 'ENOENT', /cannot open network namespace/);
    assertNetdumpError(() => PcapSocket.open('x'.repeat(16)), 'ENODEV', /invalid interface name/);
  });

  test('facts, frame-size checks, and a closed socket', () => {
    const socket = PcapSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    try {
      const info = socket.info();
      assert.equal(info.name, hosts.client.iface);
      assert.equal(info.mac.toString('hex').replace(/(..)(?!$)/g, '$1:'), hosts.client.mac);
      assert.equal(info.mtu, 1500);
      assert.equal(info.driver, 'veth');
      assert.equal(typeof socket.gro(), 'boolean');
      assertNetdumpError(() => socket.send(Buffer.alloc(1515)), 'EMSGSIZE', /larger than the MTU of ndc0/);
      assertNetdumpError(() => socket.send(Buffer.alloc(13)), 'EINVAL', /shorter than an Ethernet header/);
      assertNetdumpError(() => socket.recvBatch(0), 'EINVAL', /positive count/);
    } finally {
      socket.close();
    }
    socket.close(); // twice is harmless
    assertNetdumpError(() => socket.send(Buffer.alloc(60)), 'EBADF', /the pcap socket is closed/);
    assertNetdumpError(() => socket.recvBatch(1), 'EBADF', /closed/);
  });

  test("recvBatch never returns outgoing frames (ours or another local sender's), and does return the peer's", async () => {
    const client = PcapSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    // Linux never loops a frame back to the socket that sent it, so another
    // sender on the same interface is what shows whether PCAP_D_IN holds.
    const neighbour = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns, ethertype: ETHERTYPE_TEST });
    const peer = PacketSocket.open(hosts.server.iface, { netns: hosts.server.ns, ethertype: ETHERTYPE_TEST });
    try {
      const clientMac = client.info().mac;
      const serverMac = peer.info().mac;
      // Few enough that, even if the kernel queued the outgoing frames, libpcap's ring would not overflow.
      const count = 40;
      const atPeer = collect(peer, (markers) => markers.length >= 2 * count, 5000);
      const atClient = collect(client, (markers) => markers.includes('in-last!'), 5000);
      for (let i = 0; i < count; i++) {
        client.send(testFrame(serverMac, clientMac, `out${String(i).padStart(5, '0')}`));
        neighbour.send(testFrame(serverMac, clientMac, `oth${String(i).padStart(5, '0')}`));
        if (i % 10 === 0) peer.send(testFrame(clientMac, serverMac, `in${String(i).padStart(6, '0')}`));
      }
      // Every outgoing frame has left (the peer saw them all) before the peer's last frame is sent.
      const sent = await atPeer;
      assert.equal(sent.filter((m) => m.startsWith('out')).length, count);
      assert.equal(sent.filter((m) => m.startsWith('oth')).length, count);
      peer.send(testFrame(clientMac, serverMac, 'in-last!'));
      const received = await atClient;
      assert.deepEqual(
        received.filter((m) => !m.startsWith('in')),
        [],
        'recvBatch returned outgoing frames',
      );
      assert.equal(received.length, count / 10 + 1, JSON.stringify(received));
      assert.deepEqual(linkState(hosts.client.ns, hosts.client.iface), { promisc: false, promiscuity: 0 });
    } finally {
      client.close();
      neighbour.close();
      peer.close();
    }
  });
});
