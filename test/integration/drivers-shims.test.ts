/**
 * The driver shims (generic, em, igb, vtnet) over the AF_PACKET backend on
 * a veth link, as spec §8.2 says their FreeBSD counterparts behave: a poll
 * reaps at most 16 frames per RX queue under iflib and everything pending
 * under generic and vtnet; a TX ring without a reclaiming poll fills up and
 * refuses with EBUSY; transmitted frames leave when the poll (or the end
 * event) rings the doorbell, in order; vtnet turns the interface's GRO (Linux's LRO) off at
 * the start event and puts it back at the end, in process and around a
 * whole CLI dump. The veth has 4 queues, 1 of them in use unless a test
 * says otherwise.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { AfPacketBackend } from '../../drivers/afpacket.js';
import type { NetdumpDriver } from '../../drivers/driver.js';
import { IflibDriver } from '../../drivers/iflib.js';
import { createDriver } from '../../drivers/select.js';
import { VtnetDriver, VTNET12, VTNET13 } from '../../drivers/vtnet.js';
import { LinkFlag, PacketSocket } from '../../native/index.js';
import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { parseMac } from '../../src/wire/index.js';
import { assertNetdumpError } from '../helpers/assertions.js';
import {
  collectTestFrames,
  drainTestFrames,
  ethtoolGro,
  ETHERTYPE_TEST,
  setGro,
  setQueuesInUse,
  settle,
  testFrame,
  testIndexOf,
} from '../helpers/drivers.js';
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

const WAITING = 40;
const QUEUES = 4;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

describe('driver shims on a veth link', () => {
  let hosts: TestHosts;
  let clientMac: Uint8Array;
  let serverMac: Uint8Array;
  /** Sends test frames from the server side, and sees those the client sends. */
  let serverSocket: PacketSocket;
  /** Sees the test frames that reach the client's interface, alongside the driver's own socket. */
  let clientWatch: PacketSocket;

  before(() => {
    hosts = createTestHostPair({ queues: QUEUES });
    setQueuesInUse(hosts, hosts.client.ns, hosts.client.iface, 1);
    clientMac = parseMac(hosts.client.mac);
    serverMac = parseMac(hosts.server.mac);
    serverSocket = PacketSocket.open(hosts.server.iface, { netns: hosts.server.ns, ethertype: ETHERTYPE_TEST });
    clientWatch = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns, ethertype: ETHERTYPE_TEST });
  });

  after(() => {
    serverSocket?.close();
    clientWatch?.close();
    hosts?.destroy();
  });

  const open = (shim: string): NetdumpDriver => createDriver(new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns }), shim);

  /** Puts `count` test frames (indexes 0..count-1) in the driver's receive queue, and waits until all have arrived. */
  async function queueFramesFromServer(count: number): Promise<void> {
    drainTestFrames(clientWatch);
    for (let index = 0; index < count; index++) serverSocket.send(testFrame(clientMac, serverMac, index));
    assert.deepEqual(await collectTestFrames(clientWatch, count, 2000), range(0, count), 'the watch socket saw every frame, in order');
    // The driver's socket is handed each frame in the same softirq pass as the watch socket.
    await settle(20);
  }

  /** Polls `times` times; returns what each poll returned, and the test-frame indexes handed to input, in order. */
  function pollTimes(driver: NetdumpDriver, times: number): { returned: number[]; handed: number[]; inputCalls: number } {
    const returned: number[] = [];
    const handed: number[] = [];
    let inputCalls = 0;
    for (let poll = 0; poll < times; poll++) {
      returned.push(
        driver.poll(1000, (frame) => {
          inputCalls++;
          const index = testIndexOf(frame);
          if (index !== undefined) handed.push(index);
        }),
      );
    }
    return { returned, handed, inputCalls };
  }

  const budgets = [
    { shim: 'igb', polls: [16, 16, 8, 0] },
    { shim: 'em', polls: [16, 16, 8, 0] },
    { shim: 'generic', polls: [40, 0] },
    { shim: 'vtnet', polls: [40, 0] },
  ];
  for (const { shim, polls } of budgets) {
    test(`${shim}: with ${WAITING} frames waiting, polls return ${polls.join(', ')} (count 1000 given each time)`, async () => {
      const driver = open(shim);
      try {
        assert.equal(driver.name, shim);
        assert.equal(driver.facts().linuxDriver, 'veth');
        await queueFramesFromServer(WAITING);
        const { returned, handed, inputCalls } = pollTimes(driver, polls.length);
        assert.deepEqual(returned, polls);
        assert.equal(inputCalls, WAITING, 'input is called once per returned frame');
        assert.deepEqual(handed, range(0, WAITING), 'every frame handed up once, in arrival order');
      } finally {
        driver.close();
      }
    });
  }

  test('an interface whose driver reports no channels (a bridge) counts as one RX queue', (t) => {
    try {
      hosts.run(hosts.client.ns, 'ip', ['link', 'add', 'ndb0', 'type', 'bridge']);
    } catch (error) {
      t.skip(`this kernel cannot make a bridge: ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      hosts.run(hosts.client.ns, 'ip', ['link', 'set', 'ndb0', 'up']);
      assert.throws(() => hosts.run(hosts.client.ns, 'ethtool', ['-l', 'ndb0']), 'the bridge driver has no get_channels');
      const driver = createDriver(new AfPacketBackend('ndb0', { netns: hosts.client.ns }), 'igb');
      try {
        assert.deepEqual([driver.facts().rxQueues, driver.facts().maxRxQueues], [1, 1]);
        assert.equal(driver.init().rxRings, 1);
      } finally {
        driver.close();
      }
    } finally {
      hosts.run(hosts.client.ns, 'ip', ['link', 'del', 'ndb0']);
    }
  });

  test('with 2 of 4 RX queues in use (ethtool -L): igb reports 2 rings and reaps 32 a poll; vtnet reports 4 (12.x) or 2 (13+)', async () => {
    setQueuesInUse(hosts, hosts.client.ns, hosts.client.iface, 2);
    const backend = () => new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns });
    const drivers = { igb: open('igb'), vtnet12: new VtnetDriver(backend(), VTNET12), vtnet13: new VtnetDriver(backend(), VTNET13) };
    try {
      assert.deepEqual(drivers.igb.init(), { rxRings: 2, clustersPerRing: 1024, clusterSize: 2048 });
      assert.equal(drivers.vtnet12.init().rxRings, QUEUES, '12.x: the most virtqueue pairs');
      assert.equal(drivers.vtnet13.init().rxRings, 2, '13+: the pairs in use');
      await queueFramesFromServer(WAITING);
      const { returned, handed } = pollTimes(drivers.igb, 3);
      assert.deepEqual(returned, [32, 8, 0]);
      assert.deepEqual(handed, range(0, WAITING));
    } finally {
      Object.values(drivers).forEach((driver) => driver.close());
      setQueuesInUse(hosts, hosts.client.ns, hosts.client.iface, 1);
    }
  });

  test('igb/em: a TX ring of 32 takes 32 frames, refuses the 33rd with EBUSY; the poll sends them and reclaims the ring, which takes 32 again', async () => {
    for (const name of ['igb', 'em'] as const) {
      drainTestFrames(serverSocket);
      const driver = new IflibDriver(new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns }), { name, ringDepth: 32 });
      try {
        for (let index = 0; index < 32; index++) driver.transmit(testFrame(serverMac, clientMac, index));
        assertNetdumpError(
          () => driver.transmit(testFrame(serverMac, clientMac, 999)),
          'EBUSY',
          `${name}: TX queue 0 is full (32 descriptors awaiting reclaim)`,
        );
        assertNetdumpError(() => driver.transmit(testFrame(serverMac, clientMac, 999)), 'EBUSY', 'TX queue 0 is full');
        await settle(20);
        assert.deepEqual(drainTestFrames(serverSocket), [], `${name}: nothing is on the wire before the doorbell`);
        assert.equal(
          driver.poll(1000, () => undefined),
          0,
          'nothing to receive; the poll rings the doorbell and reclaims the ring',
        );
        assert.deepEqual(await collectTestFrames(serverSocket, 32, 2000), range(0, 32), `${name}: the 32 accepted frames reached the peer`);
        for (let index = 32; index < 64; index++) driver.transmit(testFrame(serverMac, clientMac, index));
        assertNetdumpError(
          () => driver.transmit(testFrame(serverMac, clientMac, 999)),
          'EBUSY',
          `${name}: TX queue 0 is full (32 descriptors awaiting reclaim)`,
        );
        driver.event('end');
        assert.deepEqual(await collectTestFrames(serverSocket, 32, 2000), range(32, 64), `${name}: the end event rings the doorbell too`);
        await settle(20);
        assert.deepEqual(drainTestFrames(serverSocket), [], 'no refused frame reached the wire');
      } finally {
        driver.close();
      }
    }
  });

  function reopenServerSocket(): void {
    serverSocket.close();
    serverSocket = PacketSocket.open(hosts.server.iface, { netns: hosts.server.ns, ethertype: ETHERTYPE_TEST });
  }

  /** Takes the server's end of the veth down or up, and waits until both ends show the carrier change. */
  async function setPeerLink(state: 'up' | 'down'): Promise<void> {
    hosts.run(hosts.server.ns, 'ip', ['link', 'set', hosts.server.iface, state]);
    const wanted = state === 'up' ? LinkFlag.Running : 0;
    const serverOperstate = () => hosts.run(hosts.server.ns, 'cat', [`/sys/class/net/${hosts.server.iface}/operstate`]).trim();
    for (
      let waited = 0;
      (clientWatch.link() & LinkFlag.Running) !== wanted || (serverOperstate() === 'up') !== (state === 'up');
      waited += 10
    ) {
      assert.ok(waited < 2000, `the veth's carrier did not go ${state}`);
      await settle(10);
    }
  }

  test('igb/vtnet: without a carrier, transmit refuses with EBUSY; the link is read at start and at each poll, not per frame', async () => {
    for (const shim of ['igb', 'vtnet']) {
      const driver = open(shim);
      try {
        driver.event('start');
        await setPeerLink('down');
        driver.transmit(testFrame(serverMac, clientMac, 1)); // the state read at start still holds (the frame is lost)
        driver.poll(1000, () => undefined);
        assertNetdumpError(() => driver.transmit(testFrame(serverMac, clientMac, 2)), 'EBUSY', `${shim}: interface is not running`);
        await setPeerLink('up');
        assertNetdumpError(() => driver.transmit(testFrame(serverMac, clientMac, 3)), 'EBUSY', 'not running');
        driver.poll(1000, () => undefined);
        reopenServerSocket(); // a packet socket whose interface went down keeps an ENETDOWN for its next call
        driver.transmit(testFrame(serverMac, clientMac, 4));
        driver.poll(1000, () => undefined);
        assert.deepEqual(
          await collectTestFrames(serverSocket, 1, 2000),
          [4],
          `${shim}: transmits again after the poll that saw the carrier`,
        );
      } finally {
        await setPeerLink('up');
        reopenServerSocket();
        driver.event('end');
        driver.close();
      }
    }
  });

  test("the addon's queue: frames queued before a send() go first; after the MTU is raised, a larger frame goes out whole", async () => {
    drainTestFrames(serverSocket);
    const socket = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    const setMtu = (mtu: number) => {
      for (const [ns, iface] of [
        [hosts.client.ns, hosts.client.iface],
        [hosts.server.ns, hosts.server.iface],
      ] as const) {
        hosts.run(ns, 'ip', ['link', 'set', iface, 'mtu', String(mtu)]);
      }
    };
    try {
      socket.queue(testFrame(serverMac, clientMac, 0));
      socket.send(testFrame(serverMac, clientMac, 1));
      assert.deepEqual(await collectTestFrames(serverSocket, 2, 2000), [0, 1]);
      socket.queue(testFrame(serverMac, clientMac, 2));
      setMtu(9000);
      reopenServerSocket(); // receive slots for 9000-byte frames
      assert.equal(socket.info().mtu, 9000);
      const jumbo = Buffer.alloc(9014);
      testFrame(serverMac, clientMac, 3).copy(jumbo);
      socket.queue(jumbo); // larger than the queue's slots: those queued go first, then the slots grow
      socket.queue(testFrame(serverMac, clientMac, 4));
      assert.equal(socket.flush(), 2);
      assert.deepEqual(await collectTestFrames(serverSocket, 3, 2000), [2, 3, 4]);
    } finally {
      socket.close();
      setMtu(1500);
      reopenServerSocket();
    }
  });

  test('vtnet and generic: a TX ring of 256 takes 256 frames and refuses the 257th with EBUSY; the poll sends all 256, in order', async () => {
    const full = { vtnet: 'vtnet: the TX virtqueue is full (256 entries)', generic: 'generic: the TX ring is full (256 descriptors)' };
    for (const shim of ['vtnet', 'generic'] as const) {
      drainTestFrames(serverSocket);
      const driver = open(shim);
      try {
        // More than the addon's queue of 64: it sends each 64 when the next frame comes, so no frame waits past the poll.
        for (let index = 0; index < 256; index++) driver.transmit(testFrame(serverMac, clientMac, index));
        assertNetdumpError(() => driver.transmit(testFrame(serverMac, clientMac, 999)), 'EBUSY', full[shim]);
        driver.poll(1000, () => undefined);
        assert.deepEqual(await collectTestFrames(serverSocket, 256, 2000), range(0, 256));
        driver.transmit(testFrame(serverMac, clientMac, 256));
        driver.poll(1000, () => undefined);
        assert.deepEqual(await collectTestFrames(serverSocket, 1, 2000), [256]);
      } finally {
        driver.close();
      }
    }
  });

  test('vtnet: GRO on → start turns it off → end turns it back on (ethtool -k in the namespace)', () => {
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'on');
    assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on');
    const driver = open('vtnet');
    try {
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on', 'opening changes nothing');
      driver.event('start');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'off');
      driver.event('end');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on');
      driver.event('end');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on', 'a second end changes nothing');
    } finally {
      driver.close();
    }
    assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on');
  });

  test('vtnet: GRO off stays off through start and end', () => {
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'off');
    const driver = open('vtnet');
    try {
      driver.event('start');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'off');
      driver.event('end');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'off');
    } finally {
      driver.close();
    }
    assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'off');
  });

  test("vtnet: close() after start without end restores GRO; 12.x's vtnet never touches GRO", () => {
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'on');
    const driver = open('vtnet');
    driver.event('start');
    assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'off');
    driver.close();
    assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on');

    const untouched = new VtnetDriver(new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns }), VTNET12);
    try {
      untouched.event('start');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on');
      untouched.event('end');
      assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on');
    } finally {
      untouched.close();
    }
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'off');
  });

  test('the other shims never touch GRO', () => {
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'on');
    for (const shim of ['generic', 'em', 'igb']) {
      const driver = open(shim);
      try {
        driver.event('start');
        assert.equal(ethtoolGro(hosts, hosts.client.ns, hosts.client.iface), 'on', shim);
        driver.event('end');
      } finally {
        driver.close();
      }
    }
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'off');
  });
});

describe('netdump --driver vtnet: the CLI leaves GRO as it found it', () => {
  let hosts: TestHosts;
  let dir: string;

  before(() => {
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-drivers-gro-');
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  const gro = () => ethtoolGro(hosts, hosts.client.ns, hosts.client.iface);

  test('a complete dump: GRO on before, on after, and the vmcore lands byte for byte; GRO off before, off after', async () => {
    const dumpDir = path.join(dir, 'dumps');
    mkdirSync(dumpDir);
    const server = await Netdumpd.start(hosts, dumpDir);
    try {
      const { file, bytes } = writeRandomDump(dir, 'dump.bin', 3 * 65536 + 100);
      for (const [index, state] of (['on', 'off'] as const).entries()) {
        setGro(hosts, hosts.client.ns, hosts.client.iface, state);
        const result = await runNetdump([...hostArgs(hosts), '--driver', 'vtnet', hosts.client.iface, file]);
        assertStatus(result, 0);
        assert.match(result.stdout, /\nnetdump finished\.\n/);
        assert.equal(gro(), state, `GRO was ${state} before the dump`);
        assertFileBytes(path.join(dumpDir, `vmcore.198.18.0.1.${index}`), paddedToBlock(bytes));
      }
    } finally {
      await server.stop();
    }
  });

  /** A dump into a server that acks only the herald, with `extra` arguments; GRO as sampled once "Dumping" is printed, and the result. */
  async function stuckDump(extra: string[], onDumping?: (signal: (name: NodeJS.Signals) => void) => void) {
    const server = await FakeServer.start(hosts); // acks the herald only
    try {
      const { file } = writeRandomDump(dir, 'stuck.bin', 65536);
      let sampled: 'on' | 'off' | undefined;
      const result = await runNetdump(
        [...hostArgs(hosts), '--driver', 'vtnet', '--polls', '400', '--retries', '1', ...extra, hosts.client.iface, file],
        {
          onStdout: (chunk, signal) => {
            // "Dumping" follows the herald's ack: the start event is long past, the 600 ms of retrying ahead.
            if (sampled !== undefined || !chunk.includes('Dumping')) return;
            sampled = gro();
            onDumping?.(signal);
          },
        },
      );
      assert.ok(sampled !== undefined, `no "Dumping" on the console: ${result.stdout}`);
      return { sampled, result };
    } finally {
      server.stop();
    }
  }

  test('freebsd12: its vtnet has no start event, so GRO stays on through the dump', async () => {
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'on');
    try {
      const { sampled, result } = await stuckDump(['--profile', 'freebsd12']);
      assertStatus(result, 5);
      assert.equal(sampled, 'on', 'GRO while the dump ran');
      assert.equal(gro(), 'on', 'GRO after the dump');
    } finally {
      setGro(hosts, hosts.client.ns, hosts.client.iface, 'off');
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} in the middle of a dump: it stops at the next poll, GRO is on again, then the client dies of the signal`, async () => {
      setGro(hosts, hosts.client.ns, hosts.client.iface, 'on');
      try {
        // 20 rounds of 400 polls would retry for over 4 s after the signal; timed from the signal, not from
        // the spawn, so that a slow start-up (node, ARP, the herald) does not count.
        let signalledAt = 0;
        const { sampled, result } = await stuckDump(['--retries', '20'], (send) => {
          signalledAt = performance.now();
          send(signal);
        });
        const stoppedMs = performance.now() - signalledAt;
        assert.equal(result.signal, signal, `${result.status}: ${result.stderr}`);
        assert.equal(result.stderr, `netdump: interrupted by ${signal}\n`);
        assert.match(result.stdout, /MB:(\. )*\n$/, 'the unfinished console line ends before the interruption is said');
        assert.ok(!result.stdout.includes('DUMP FAILED'), `a stop is not a kernel failure: ${result.stdout}`);
        assert.ok(!result.stdout.includes('netdump finished'), result.stdout);
        assert.ok(stoppedMs < 2000, `stopped ${stoppedMs.toFixed(0)} ms after the signal`);
        assert.equal(sampled, 'off', 'GRO while the dump ran');
        assert.equal(gro(), 'on', 'GRO after the dump');
      } finally {
        setGro(hosts, hosts.client.ns, hosts.client.iface, 'off');
      }
    });
  }

  test('a dump that fails in the data stage: GRO is off while it runs and on again after (exit 5)', async () => {
    setGro(hosts, hosts.client.ns, hosts.client.iface, 'on');
    const server = await FakeServer.start(hosts); // acks the herald only
    try {
      const { file } = writeRandomDump(dir, 'stuck.bin', 65536);
      let sampled: 'on' | 'off' | undefined;
      const result = await runNetdump(
        [...hostArgs(hosts), '--driver', 'vtnet', '--polls', '400', '--retries', '1', hosts.client.iface, file],
        {
          onStdout: (chunk) => {
            // "Dumping" follows the herald's ack: the start event is long past, the 600 ms of retrying ahead.
            if (sampled === undefined && chunk.includes('Dumping')) sampled = gro();
          },
        },
      );
      assertStatus(result, 5);
      assert.ok(result.stdout.endsWith('. . \n** DUMP FAILED (ERROR 60) **\ndebugnet: restoring mbuf zone pointers\n'), result.stdout);
      assert.ok(sampled !== undefined, `no "Dumping" on the console: ${result.stdout}`);
      assert.equal(sampled, 'off', 'GRO while the dump ran');
      assert.equal(gro(), 'on', 'GRO after the dump');
    } finally {
      server.stop();
      setGro(hosts, hosts.client.ns, hosts.client.iface, 'off');
    }
  });
});
