/**
 * What a dump does at the driver layer's limits, run in process
 * (runNetdump) against netdumpd in the server namespace: a TX ring too
 * small for a batch refuses a transmit with EBUSY and the dump fails the
 * way the kernel's does (spec §3.3: any transmit error aborts the send);
 * mbuf zones sized from a driver's tiny init() run dry (ENOBUFS) instead
 * of growing (spec §8.1). And the zones themselves.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import { AfPacketBackend } from '../../drivers/afpacket.js';
import { GenericDriver } from '../../drivers/generic.js';
import { IflibDriver } from '../../drivers/iflib.js';
import { createDriver } from '../../drivers/select.js';
import { DumpFailure } from '../../src/client/netdump.js';
import { DumpZones, MBUFS_PER_PACKET } from '../../src/net/dump-zones.js';
import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { assertNetdumpError } from '../helpers/assertions.js';
import { dumpInProcess, InitOverride, RecordingDriver, type InProcessDump } from '../helpers/drivers.js';
import { makeTempDir, Netdumpd, removeDir, writeRandomDump } from '../helpers/netdump-cli.js';

const HERALD = 1;
const VMCORE = 3;
/** Four 64 KiB writes: the first 46-packet batch is seq 2..47. */
const DUMP_SIZE = 4 * 65536;

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

function assertFailure(dump: InProcessDump, code: string, stage: string, message: string | RegExp): DumpFailure {
  assert.equal(dump.report, undefined, `the dump completed:\n${dump.console}`);
  const error = dump.error;
  assert.ok(error instanceof DumpFailure, `expected a DumpFailure, got ${String(error)}\n${(error as Error)?.stack}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.stage, stage);
  if (typeof message === 'string') assert.equal(error.message, message);
  else assert.match(error.message, message);
  return error;
}

describe('dumps at the driver limits (in process, against netdumpd)', () => {
  let hosts: TestHosts;
  let dir: string;
  let dumpFile: string;
  let dumpDir: string;
  let server: Netdumpd | undefined;
  let runs = 0;

  before(() => {
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-drivers-limits-');
    dumpFile = writeRandomDump(dir, 'dump.bin', DUMP_SIZE).file;
  });

  beforeEach(async () => {
    dumpDir = path.join(dir, `dumps-${runs++}`);
    mkdirSync(dumpDir);
    server = await Netdumpd.start(hosts, dumpDir);
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  const backend = () => new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns });
  const opening = () =>
    `debugnet: overwriting mbuf zone pointers\ndebugnet_connect: searching for server MAC...\nnetdumping to 198.18.0.2 (${hosts.server.mac})\n`;

  /** Stops the server (open sessions end as timed out) and returns the one info file it wrote. */
  async function infoAfterStop(): Promise<string> {
    await server!.stop();
    const names = readdirSync(dumpDir).filter((name) => /^info\..*\.\d+$/.test(name));
    assert.deepEqual(names, ['info.198.18.0.1.0']);
    return readFileSync(path.join(dumpDir, names[0]!), 'utf8');
  }

  test('igb with a 32-descriptor TX ring: the first 46-packet batch overflows it: EBUSY in stage data, ERROR 16, no FINISHED', async () => {
    const ring = new IflibDriver(backend(), { name: 'igb', ringDepth: 32 });
    const driver = new RecordingDriver(ring);
    let dump: InProcessDump;
    try {
      dump = dumpInProcess({ driver, hosts, dumpFile });
    } finally {
      driver.close();
    }
    assertFailure(dump, 'EBUSY', 'data', 'igb: TX queue 0 is full (32 descriptors awaiting reclaim)');
    // The first 64 KiB write's send fails at the 33rd packet; a dump this small prints no progress mark.
    assert.equal(
      dump.console,
      `${opening()}Dumping 0 out of 1 MB:\n** DUMP FAILED (ERROR 16) **\ndebugnet: restoring mbuf zone pointers\n`,
    );
    assert.deepEqual(driver.arp, { requests: 1, replies: 0 });
    assert.deepEqual(
      driver.messages,
      [{ type: HERALD, seq: 1 }, ...range(2, 34).map((seq) => ({ type: VMCORE, seq }))],
      'the herald, then exactly the 32 packets the ring held',
    );
    assert.equal(driver.refused, 1, 'the 33rd transmit was refused and the dump stopped there');
    assert.equal(server!.lines.filter((line) => line.startsWith('Completed dump')).length, 0);
    const info = await infoAfterStop();
    assert.equal(info, 'Dump from 198.18.0.1 [198.18.0.1]\nDump incomplete: client timed out\n', 'no FINISHED reached the server');
  });

  test('the same dump with the ring at its real depth (igb, 1024) completes', async () => {
    const driver = new RecordingDriver(createDriver(backend(), 'igb'));
    let dump: InProcessDump;
    try {
      dump = dumpInProcess({ driver, hosts, dumpFile });
    } finally {
      driver.close();
    }
    assert.equal(dump.error, undefined, `${String(dump.error)}\n${dump.console}`);
    assert.equal(dump.report!.packets, 1 + 4 * 46 + 1 + 1);
    assert.equal(driver.refused, 0);
    assert.ok(dump.console.endsWith('\nnetdump finished.\ndebugnet: restoring mbuf zone pointers\n\nDump complete\n'), dump.console);
    const info = await infoAfterStop();
    assert.ok(info.endsWith('Dump complete\n'), info);
  });

  const enobufsCases = [
    // 13+ puts its mbuf zones back when the failed connection is freed; 12.x says nothing then.
    { profile: 'freebsd13' as const, message: 'debugnet_send: Out of mbufs\n', closing: 'debugnet: restoring mbuf zone pointers\n' },
    { profile: 'freebsd12' as const, message: 'netdump_send: Out of mbufs\n', closing: '' },
  ];
  for (const { profile, message, closing } of enobufsCases) {
    test(`${profile}: an init() of 1 ring × 8 clusters gives 40 mbufs; a 46-packet batch needs 92: ENOBUFS after 20 packets`, async () => {
      const driver = new RecordingDriver(
        new InitOverride(new GenericDriver(backend()), { rxRings: 1, clustersPerRing: 8, clusterSize: 2048 }),
      );
      let dump: InProcessDump;
      try {
        dump = dumpInProcess({ driver, hosts, dumpFile, profile });
      } finally {
        driver.close();
      }
      assertFailure(dump, 'ENOBUFS', 'data', 'out of mbufs: 40 of 40 are in flight awaiting a poll');
      const opening12 = `netdump: overwriting mbuf zone pointers\nnetdump in progress. searching for server...\nnetdumping to 198.18.0.2 (${hosts.server.mac})\n`;
      assert.equal(
        dump.console,
        `${profile === 'freebsd12' ? opening12 : opening()}Dumping 0 out of 1 MB:${message}\n** DUMP FAILED (ERROR 55) **\n${closing}`,
      );
      assert.deepEqual(driver.arp, { requests: 1, replies: 0 });
      assert.deepEqual(
        driver.messages,
        [{ type: HERALD, seq: 1 }, ...range(2, 22).map((seq) => ({ type: VMCORE, seq }))],
        '20 packets × 2 mbufs = 40',
      );
      assert.equal(driver.refused, 0, 'the driver was never asked: the zone refused first');
      const info = await infoAfterStop();
      assert.equal(info, 'Dump from 198.18.0.1 [198.18.0.1]\nDump incomplete: client timed out\n');
    });
  }
});

describe('DumpZones: sized from init(), never growing', () => {
  test('mbufs = clustersPerRing × (4 + rxRings), clusters = clustersPerRing × rxRings, cluster size as reported', () => {
    const cases = [
      { init: { rxRings: 1, clustersPerRing: 8, clusterSize: 2048 }, mbufs: 40, clusters: 8 },
      { init: { rxRings: 2, clustersPerRing: 8, clusterSize: 4096 }, mbufs: 48, clusters: 16 },
      { init: { rxRings: 4, clustersPerRing: 1024, clusterSize: 9216 }, mbufs: 8192, clusters: 4096 },
    ];
    for (const { init, mbufs, clusters } of cases) {
      const zones = new DumpZones(init);
      assert.deepEqual(
        { mbufs: zones.mbufs, clusters: zones.clusters, clusterSize: zones.clusterSize, inFlight: zones.inFlight },
        { mbufs, clusters, clusterSize: init.clusterSize, inFlight: 0 },
      );
    }
    assert.equal(MBUFS_PER_PACKET, 2);
  });

  test('taking past the limit throws ENOBUFS and changes nothing; the counts never grow; reclaimTransmits frees them all', () => {
    const zones = new DumpZones({ rxRings: 2, clustersPerRing: 8, clusterSize: 2048 });
    for (let packet = 0; packet < 24; packet++) zones.takeForTransmit(MBUFS_PER_PACKET);
    assert.equal(zones.inFlight, 48);
    for (let attempt = 0; attempt < 3; attempt++) {
      assertNetdumpError(() => zones.takeForTransmit(1), 'ENOBUFS', 'out of mbufs: 48 of 48 are in flight awaiting a poll');
    }
    assert.deepEqual({ mbufs: zones.mbufs, clusters: zones.clusters, inFlight: zones.inFlight }, { mbufs: 48, clusters: 16, inFlight: 48 });
    zones.reclaimTransmits();
    assert.equal(zones.inFlight, 0);
    zones.takeForTransmit(47);
    assertNetdumpError(() => zones.takeForTransmit(MBUFS_PER_PACKET), 'ENOBUFS', 'out of mbufs: 47 of 48 are in flight awaiting a poll');
    assert.equal(zones.inFlight, 47, 'a refused take takes nothing');
    zones.takeForTransmit(1);
    assert.equal(zones.inFlight, 48);
    assert.equal(zones.mbufs, 48);
    zones.reclaimTransmits();
    assert.equal(zones.inFlight, 0);
  });

  test("the shims' own init() over veth, and the zones they give", () => {
    const hosts = createTestHostPair();
    try {
      const expected: Record<string, { init: object; mbufs: number; clusters: number }> = {
        generic: { init: { rxRings: 1, clustersPerRing: 256, clusterSize: 2048 }, mbufs: 1280, clusters: 256 },
        em: { init: { rxRings: 1, clustersPerRing: 1024, clusterSize: 2048 }, mbufs: 5120, clusters: 1024 },
        igb: { init: { rxRings: 1, clustersPerRing: 1024, clusterSize: 2048 }, mbufs: 5120, clusters: 1024 },
        vtnet: { init: { rxRings: 1, clustersPerRing: 64, clusterSize: 2048 }, mbufs: 320, clusters: 64 },
      };
      for (const [shim, { init, mbufs, clusters }] of Object.entries(expected)) {
        const driver = createDriver(new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns }), shim);
        try {
          assert.deepEqual(driver.init(), init, shim);
          const zones = new DumpZones(driver.init());
          assert.deepEqual([zones.mbufs, zones.clusters], [mbufs, clusters], shim);
        } finally {
          driver.close();
        }
      }
    } finally {
      hosts.destroy();
    }
  });
});
