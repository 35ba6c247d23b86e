/**
 * --profile fast as a real process dumping to netdumpd as a real process:
 * the vmcore lands byte for byte with no fault, under 1, 5 and 20 % loss,
 * duplicated and reordered frames, and a mix; the packets counted are
 * exact, fewer than the kernel's (batches of whole packets); the trace shows batches in flight together and every packet's first
 * transmit in sequence order. And at MTU 9000, with 4096-byte payloads.
 */
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { readTrace } from '../helpers/drivers.js';
import {
  assertFileBytes,
  assertStatus,
  hostArgs,
  jsonReport,
  runNetdump,
  startServedDump,
  type RunOptions,
  stopServedDump,
  type CliReport,
  type ServedDump,
} from '../helpers/netdump-cli.js';

/** Sixty 64 KiB writes and a 1000-byte tail (one 4 KiB block). */
const DUMP_SIZE = 60 * 65536 + 1000;
/**
 * The data (60 × 65536 + 4096 bytes) in 1448-byte packets, only the last one short. freebsd13 sends
 * 60 × 46 + 3 = 2763, each batch ending in a short one.
 */
const DATA_PACKETS = 2719;
/** HERALD, the data, KDH, FINISHED. */
const PACKETS = 1 + DATA_PACKETS + 1 + 1;
/** The herald, KDH and FINISHED go through the kernel's loop: short rounds, many of them, for 20 % loss. */
const KERNEL_LOOP_UNDER_LOSS = ['--polls', '40', '--retries', '200'];

describe('netdump --profile fast → netdumpd', () => {
  let served: ServedDump;
  let hosts: TestHosts;
  let dir: string;

  before(async () => {
    served = await startServedDump('netdump-client-fast-', DUMP_SIZE);
    ({ hosts, dir } = served);
  });

  after(() => stopServedDump(served));

  async function dump(extra: string[], options: RunOptions = {}): Promise<CliReport> {
    const args = [...hostArgs(hosts), '--profile', 'fast', '--json', ...extra, hosts.client.iface, served.dumpFile];
    const result = await runNetdump(args, options);
    assertStatus(result, 0);
    const report = jsonReport(result);
    assert.equal(report.packets, PACKETS);
    assert.ok(report.acks >= PACKETS, `${report.acks} acks`);
    const { dumpDir, expected } = served;
    assertFileBytes(path.join(dumpDir, readlinkSync(path.join(dumpDir, 'vmcore.198.18.0.1.last'))), expected);
    return report;
  }

  test('pinned to one CPU, the client starts itself again under --single-threaded (V8 then has no threads to take that CPU)', async () => {
    assert.equal((await dump([], { cpu: 0 })).singleThreaded, true);
    assert.equal((await dump([])).singleThreaded, false, 'unpinned, on this machine of 2 CPUs');
  });

  test('no fault: byte for byte, nothing resent; the trace has batches in flight together, first transmits in order', async () => {
    const tracePath = path.join(dir, 'fast.jsonl');
    const report = await dump(['--trace', tracePath]);
    // Nothing is lost on a clean link, so no ack overtakes an unacked packet. A server stalled past the 10 ms
    // floor of the retransmit timeout (unpinned, JIT still cold) can cost a few timeout resends, never many.
    assert.equal(report.window!.overtakenResends, 0);
    // (Our server's receive buffer holds the whole window, so nothing is dropped there either.)
    assert.ok(report.retransmittedPackets < PACKETS / 20, `${report.retransmittedPackets} resent on timeout`);
    const trace = readTrace(tracePath);
    let open = 0;
    let mostOpen = 0;
    for (const line of trace) {
      if (line.event === 'batch') mostOpen = Math.max(mostOpen, ++open);
      if (line.event === 'batch-acked') open--;
    }
    assert.equal(open, 0, 'every batch acked');
    assert.ok(mostOpen >= 2, `a later batch starts before the one before it is acked (at most ${mostOpen} open)`);
    const seen = new Set<number>();
    const firstSends: number[] = [];
    for (const line of trace) {
      if (line.event !== 'transmit' || line.type !== 3 || seen.has(line.seq!)) continue;
      seen.add(line.seq!);
      firstSends.push(line.seq!);
    }
    assert.equal(firstSends.length, DATA_PACKETS);
    assert.deepEqual(
      firstSends,
      [...firstSends].sort((a, b) => a - b),
      'each packet first leaves in sequence order',
    );
  });

  const lossy = ['loss=0.01,seed=1', 'loss=0.05,seed=2', 'loss=0.2,seed=3'];
  for (const spec of lossy) {
    test(`--inject ${spec}: byte for byte; every frame lost on the way out was sent again`, async (t) => {
      const report = await dump(['--inject', spec, ...KERNEL_LOOP_UNDER_LOSS]);
      t.diagnostic(`${report.retransmittedPackets} resent in ${report.retransmitRounds} rounds; window ${JSON.stringify(report.window)}`);
      t.diagnostic(`faults ${JSON.stringify(report.faults)}`);
      assert.ok(report.faults!.tx.lost > 0 && report.faults!.rx.lost > 0, JSON.stringify(report.faults));
      assert.ok(report.retransmittedPackets >= report.faults!.tx.lost, `${report.retransmittedPackets} resent`);
    });
  }

  const disorderly = [
    { spec: 'dup=0.05,seed=4', struck: (f: NonNullable<CliReport['faults']>) => [f.tx.duplicated, f.rx.duplicated] },
    { spec: 'reorder=0.05,seed=5', struck: (f: NonNullable<CliReport['faults']>) => [f.tx.reordered, f.rx.reordered] },
    {
      spec: 'tx.dup=0.1,rx.reorder=0.1,tx.reorder=0.1,rx.loss=0.02,seed=6',
      struck: (f: NonNullable<CliReport['faults']>) => [f.tx.duplicated, f.rx.reordered, f.tx.reordered, f.rx.lost],
    },
  ];
  for (const { spec, struck } of disorderly) {
    test(`--inject ${spec}: byte for byte, and every fault named struck`, async () => {
      const report = await dump(['--inject', spec, ...KERNEL_LOOP_UNDER_LOSS]);
      for (const count of struck(report.faults!)) assert.ok(count > 0, JSON.stringify(report.faults));
    });
  }
});

describe('netdump --profile fast at MTU 9000', () => {
  test('4096-byte payloads, a first window of one 64 KiB batch (16 packets), byte for byte', async () => {
    let served: ServedDump | undefined;
    try {
      served = await startServedDump('netdump-client-fast-9000-', DUMP_SIZE, undefined, { mtu: 9000 });
      const { hosts, dumpDir, dumpFile, expected } = served;
      const result = await runNetdump([...hostArgs(hosts), '--profile', 'fast', '--json', hosts.client.iface, dumpFile]);
      assertStatus(result, 0);
      const report = jsonReport(result);
      assert.equal(report.payloadBytes, 4096);
      assert.equal(report.packets, 1 + 60 * 16 + 1 + 1 + 1);
      assertFileBytes(path.join(dumpDir, 'vmcore.198.18.0.1.0'), expected);
    } finally {
      await stopServedDump(served);
    }
  });
});
