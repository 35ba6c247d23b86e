/**
 * The driver middleware through the CLI, against netdumpd in the server
 * namespace: the fault injector (--inject) loses, duplicates, reorders and
 * delays frames and the vmcore still lands byte for byte, with the same
 * retransmissions for the same seed (as a simulated link predicts them);
 * the pcap writer (--pcap) records exactly the frames on the wire (as
 * tcpdump sees them on the same interface); the tracer (--trace) counts
 * exactly what the client's --json summary reports.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { FrameInput, NetdumpDriver } from '../../drivers/driver.js';
import { FaultInjectingDriver, parseFaultPlan } from '../../drivers/middleware/fault-injector.js';
import type { DumpReport } from '../../src/client/netdump.js';
import type { UdpFrameAddressing } from '../../src/net/udp-frame.js';
import { DUMP_BLOCK_SIZE } from '../../src/dump/source.js';
import type { TestHosts } from '../../scripts/lib/testhosts.js';
import {
  ARP_OP_REQUEST,
  emitNetdumpHeader,
  ETHERNET_HEADER_SIZE,
  ethernetEtherType,
  ethernetSrcIs,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  NETDUMP_ACKPORT,
  NETDUMP_HEADER_SIZE,
  NETDUMP_PORT,
  netdumpSeqno,
  netdumpType,
  parseArp,
  parseIpv4Address,
  parseMac,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { assertNetdumpError } from '../helpers/assertions.js';
import { holdsFinishedAck } from '../helpers/capture-frames.js';
import { dumpInProcess, fakeFacts, readTrace, type TraceLine } from '../helpers/drivers.js';
import { SimulatedServerLink } from '../helpers/simulated-link.js';
import {
  assertFileBytes,
  assertStatus,
  hostArgs,
  jsonReport,
  runNetdump,
  startServedDump,
  stopServedDump,
  type ClientResult,
  type CliReport,
  type ServedDump,
} from '../helpers/netdump-cli.js';
import { readPcap, Tcpdump, type PcapRecord } from '../helpers/pcap.js';
import { emitUdpFrame } from '../helpers/udp-frames.js';

/** Ten 64 KiB batches and a 1000-byte tail (one 4 KiB block: 3 packets). */
const DUMP_SIZE = 10 * 65536 + 1000;
/** HERALD, 10 × 46, 3, KDH, FINISHED. */
const PACKETS = 1 + 10 * 46 + 3 + 1 + 1;
/**
 * Rounds of 400 polls (≈ 200 ms) and room for many of them: 5 % loss each way
 * leaves few batches whole. The counts are compared with a prompt simulated
 * link, so a round must outlast any stall of netdumpd on a loaded machine: an
 * ack late by a round is a retransmission the prediction does not have.
 */
const LOSSY = ['--retries', '50', '--polls', '400'];

/** The indexes of the 4 KiB blocks in which two images differ. */
function differingBlocks(a: Buffer, b: Buffer): number[] {
  const blocks: number[] = [];
  for (let at = 0; at < Math.max(a.length, b.length); at += DUMP_BLOCK_SIZE) {
    if (!a.subarray(at, at + DUMP_BLOCK_SIZE).equals(b.subarray(at, at + DUMP_BLOCK_SIZE))) blocks.push(at / DUMP_BLOCK_SIZE);
  }
  return blocks;
}

function reportOf(result: ClientResult): CliReport {
  const report = jsonReport(result);
  assert.deepEqual([report.driver, report.backend], ['generic', 'afpacket'], 'the shim chosen for veth, and the default backend');
  return report;
}

const REPLAY_ADDRESSING: UdpFrameAddressing = {
  srcMac: parseMac('02:00:5e:10:00:01'),
  dstMac: parseMac('02:00:5e:10:00:02'),
  srcIp: parseIpv4Address('198.18.0.1'),
  dstIp: parseIpv4Address('198.18.0.2'),
  srcPort: NETDUMP_ACKPORT,
  dstPort: NETDUMP_PORT,
};

/** A message frame without payload: what the fault injector reads of one is its type and sequence number. */
function messageFrame(type: number, seq: number): Uint8Array {
  const header = new Uint8Array(NETDUMP_HEADER_SIZE);
  emitNetdumpHeader({ type, seqno: seq, offset: 0, len: 0, aux2: 0 }, header);
  const frame = new Uint8Array(UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE);
  emitUdpFrame(REPLAY_ADDRESSING, header, frame);
  return frame;
}

/** The end of the injector that faces the wire, for replaying frames through it. */
class ReplayLink implements NetdumpDriver {
  readonly name = 'replay';
  readonly sent: Array<{ type: number; seq: number }> = [];
  arrivals: Uint8Array[] = [];
  facts() {
    return fakeFacts('replay0', 'replay');
  }
  init() {
    return { rxRings: 1, clustersPerRing: 256, clusterSize: 2048 };
  }
  event(): void {}
  transmit(frame: Uint8Array): void {
    this.sent.push({ type: netdumpType(frame, UDP_PAYLOAD_OFFSET), seq: netdumpSeqno(frame, UDP_PAYLOAD_OFFSET) });
  }
  poll(_count: number, input: FrameInput): number {
    const frames = this.arrivals;
    this.arrivals = [];
    for (const frame of frames) input(frame, 0);
    return frames.length;
  }
  close(): void {}
}

describe('fault injection, pcap and trace middleware (CLI against netdumpd)', () => {
  let served: ServedDump;
  let hosts: TestHosts;
  let dir: string;
  let dumpDir: string;
  let dumpFile: string;
  let expected: Buffer;
  let warmUp: DumpReport;

  before(async () => {
    // The server's kernel never ARPs for the client, so every frame on the link is the dump's.
    served = await startServedDump('netdump-drivers-middleware-', DUMP_SIZE, (testHosts) => testHosts.pinClientNeighbour());
    ({ hosts, dir, dumpDir, dumpFile, expected } = served);
    // Every lossy dump below meets a warmed-up server, even when run alone (--test-name-pattern).
    warmUp = (await dump([])).report;
  });

  after(() => stopServedDump(served));

  /** Runs one CLI dump with `extra` options; asserts exit 0 and the vmcore byte for byte; returns the summary. */
  async function dump(extra: string[]): Promise<{ result: ClientResult; report: CliReport }> {
    const result = await runNetdump([...hostArgs(hosts), '--json', ...extra, hosts.client.iface, dumpFile]);
    assertStatus(result, 0);
    const report = reportOf(result);
    assert.equal(report.packets, PACKETS);
    assert.equal(report.batches, 14);
    const core = readlinkSync(path.join(dumpDir, 'vmcore.198.18.0.1.last'));
    assertFileBytes(path.join(dumpDir, core), expected);
    return { result, report };
  }

  /** What the seed does on a perfect, prompt link: the same dump in process through the injector over a simulated server. */
  function predict(spec: string): DumpReport & { faults: FaultInjectingDriver['counts'] } {
    const link = new SimulatedServerLink(parseIpv4Address(hosts.client.ip), parseIpv4Address(hosts.server.ip));
    const injector = new FaultInjectingDriver(link, parseFaultPlan(spec));
    const run = dumpInProcess({ driver: injector, hosts, dumpFile, polls: 4, retries: 50 });
    assert.equal(run.error, undefined, String(run.error));
    return { ...run.report!, faults: injector.counts };
  }

  test('a plain dump first (it warms the server: the first herald waits for reverse DNS): nothing retransmitted', () => {
    assert.equal(warmUp.retransmittedPackets, 0);
    assert.equal(warmUp.acks, PACKETS);
  });

  const SEED_A = 'loss=0.05,seed=7';
  const SEED_B = 'loss=0.05,seed=8';

  test(`--inject ${SEED_A} twice: byte-identical vmcores, the same retransmissions both times, as predicted`, async (t) => {
    const prediction = predict(SEED_A);
    assert.ok(prediction.retransmittedPackets > 0, 'the seed loses something');
    const first = await dump(['--inject', SEED_A, ...LOSSY]);
    const second = await dump(['--inject', SEED_A, ...LOSSY]);
    const counts = (report: DumpReport) => ({
      retransmittedPackets: report.retransmittedPackets,
      retransmitRounds: report.retransmitRounds,
      acks: report.acks,
    });
    t.diagnostic(
      `predicted ${JSON.stringify(counts(prediction))}; got ${JSON.stringify(counts(first.report))}, ${JSON.stringify(counts(second.report))}`,
    );
    assert.deepEqual(counts(first.report), counts(prediction));
    assert.deepEqual(counts(second.report), counts(prediction));
    assert.deepEqual(first.report.faults, prediction.faults);
    assert.equal(first.result.stderr.split('. ').length - 1, prediction.retransmitRounds, '". " once per retransmit round');
  });

  test('--ack-bug-compat under loss: a lost packet whose aliased ack bit was set is never resent, so the vmcore has the predicted holes', async (t) => {
    // Spec §3.7: packets i and i + 32 of a batch share an ack bit; the ack of one hides the loss of the other.
    const spec = 'tx.loss=0.05,seed=7';
    const link = new SimulatedServerLink(parseIpv4Address(hosts.client.ip), parseIpv4Address(hosts.server.ip));
    const predicted = dumpInProcess({
      driver: new FaultInjectingDriver(link, parseFaultPlan(spec)),
      hosts,
      dumpFile,
      polls: 4,
      retries: 50,
      ackBugCompat: true,
    });
    assert.equal(predicted.error, undefined, String(predicted.error));
    const image = link.vmcoreImage();
    const holes = differingBlocks(image, expected);
    t.diagnostic(`predicted: ${predicted.report!.retransmittedPackets} retransmitted, 4 KiB blocks with a hole: ${holes.join(' ')}`);
    assert.ok(holes.length > 0, 'the seed loses a packet whose alias is acked');

    const result = await runNetdump([
      ...hostArgs(hosts),
      '--json',
      '--ack-bug-compat',
      '--inject',
      spec,
      ...LOSSY,
      hosts.client.iface,
      dumpFile,
    ]);
    assertStatus(result, 0);
    assert.match(result.stderr, /\nnetdump finished\.\n/);
    const report = reportOf(result);
    assert.equal(report.retransmittedPackets, predicted.report!.retransmittedPackets);
    assertFileBytes(path.join(dumpDir, readlinkSync(path.join(dumpDir, 'vmcore.198.18.0.1.last'))), image);
  });

  test(`--inject ${SEED_B}: a different seed, a different retransmission count (as predicted)`, async (t) => {
    const predictionA = predict(SEED_A);
    const predictionB = predict(SEED_B);
    assert.notEqual(predictionB.retransmittedPackets, predictionA.retransmittedPackets);
    const { report } = await dump(['--inject', SEED_B, ...LOSSY]);
    t.diagnostic(
      `seed 8: ${report.retransmittedPackets} retransmitted in ${report.retransmitRounds} rounds (seed 7: ${predictionA.retransmittedPackets})`,
    );
    assert.equal(report.retransmittedPackets, predictionB.retransmittedPackets);
    assert.equal(report.retransmitRounds, predictionB.retransmitRounds);
    assert.notEqual(report.retransmittedPackets, predictionA.retransmittedPackets);
  });

  const otherFaults: Array<{ spec: string; struck: (faults: FaultInjectingDriver['counts']) => number[] }> = [
    { spec: 'dup=0.05,seed=3', struck: (f) => [f.tx.duplicated, f.rx.duplicated] },
    { spec: 'reorder=0.05,seed=3', struck: (f) => [f.tx.reordered, f.rx.reordered] },
    { spec: 'delay=0.05,delay_ms=2,seed=3', struck: (f) => [f.tx.delayed, f.rx.delayed] },
    {
      spec: 'tx.dup=0.1,rx.reorder=0.1,tx.delay=0.1,rx.loss=0.02,seed=5',
      struck: (f) => [f.tx.duplicated, f.rx.reordered, f.tx.delayed, f.rx.lost],
    },
    // The server's kernel drops each corrupted datagram on its IP or UDP checksum: a loss the client retransmits.
    { spec: 'tx.corrupt=0.05,seed=3', struck: (f) => [f.tx.corrupted] },
  ];
  for (const { spec, struck } of otherFaults) {
    test(`--inject ${spec}: the injector's counts in --json are the predicted ones, and the vmcore is byte-identical`, async (t) => {
      const faults = predict(spec).faults;
      t.diagnostic(`predicted faults: ${JSON.stringify(faults)}`);
      for (const count of struck(faults)) assert.ok(count > 0, `every fault named strikes: ${JSON.stringify(faults)}`);
      const { report } = await dump(['--inject', spec, ...LOSSY]);
      assert.deepEqual(report.faults, faults);
    });
  }

  test('--pcap: tcpdump reads the file; it holds exactly the frames on the wire; the trace matches the --json summary', async (t) => {
    const spec = 'loss=0.05,seed=11';
    const clientPcap = path.join(dir, 'client.pcap');
    const tracePath = path.join(dir, 'trace.jsonl');
    const capture = await Tcpdump.start(hosts, hosts.client.ns, hosts.client.iface, path.join(dir, 'wire.pcap'));
    let result: ClientResult;
    let report: DumpReport;
    try {
      ({ result, report } = await dump(['--inject', spec, ...LOSSY, '--pcap', clientPcap, '--trace', tracePath]));
      await capture.waitFor((pcap) => holdsFinishedAck(pcap, hosts), 5000, 'the ack of FINISHED');
    } finally {
      capture.kill();
    }
    const wire = readPcap(capture.file, true).records;

    // tcpdump reads our file: exit 0, one line per record.
    const printed = execFileSync('tcpdump', ['-n', '-r', clientPcap], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const ours = readPcap(clientPcap).records;
    assert.equal(printed.trimEnd().split('\n').length, ours.length);

    // The same frames, in the same order, each way.
    const clientMac = Buffer.from(hosts.client.mac.replaceAll(':', ''), 'hex');
    const split = (records: PcapRecord[]) => ({
      sent: records.filter((record) => ethernetSrcIs(record.data, clientMac)).map((record) => record.data.toString('hex')),
      received: records.filter((record) => !ethernetSrcIs(record.data, clientMac)).map((record) => record.data.toString('hex')),
    });
    const onWire = split(wire);
    const inFile = split(ours);
    assert.equal(inFile.sent.length, onWire.sent.length, 'frames sent');
    assert.equal(inFile.received.length, onWire.received.length, 'frames received');
    assert.deepEqual(inFile.sent, onWire.sent);
    assert.deepEqual(inFile.received, onWire.received);
    for (const record of ours) assert.equal(record.originalLength, record.data.length);

    // The trace against the summary.
    const trace = readTrace(tracePath);
    const of = (event: TraceLine['event']) => trace.filter((line) => line.event === event);
    const transmits = of('transmit');
    const polls = of('poll');
    const messageTransmits = transmits.filter((line) => line.type !== undefined);
    const arpTransmits = transmits.filter((line) => line.ethertype === ETHERTYPE_ARP);
    assert.ok(report.retransmittedPackets > 0 && report.retransmitRounds > 0, `the loss forced retransmissions: ${JSON.stringify(report)}`);
    assert.equal(messageTransmits.length, report.packets + report.retransmittedPackets);
    const arpRequests = 1 + (result.stderr.split('(ARP retry)').length - 1);
    const arpRequestsReceived = wire.filter((record) => {
      if (ethernetEtherType(record.data) !== ETHERTYPE_ARP || ethernetSrcIs(record.data, clientMac)) return false;
      const arp = parseArp(record.data.subarray(ETHERNET_HEADER_SIZE));
      return arp.op === ARP_OP_REQUEST && arp.targetIp === parseIpv4Address(hosts.client.ip);
    }).length;
    assert.equal(arpTransmits.length, arpRequests + arpRequestsReceived, 'ARP frames: our requests and a reply to each request for us');
    assert.equal(transmits.length, report.packets + report.retransmittedPackets + arpTransmits.length, 'no other transmit');
    assert.equal(of('ack').length, report.acks);
    assert.equal(of('tick').length, report.polls, 'a 0.5 ms tick after every wait-loop poll');
    assert.equal(of('retransmit').length, report.retransmitRounds);
    assert.equal(
      of('retransmit').reduce((sum, line) => sum + line.packets!, 0),
      report.retransmittedPackets,
    );
    // The ARP phase polls before the herald goes out; the sender's wait loops count the rest.
    const heraldAt = trace.indexOf(messageTransmits[0]!);
    const arpPolls = trace.slice(0, heraldAt).filter((line) => line.event === 'poll');
    assert.equal(polls.length, report.polls + arpPolls.length);
    assert.ok(arpPolls.length >= 1);
    assert.deepEqual(
      arpPolls.map((line) => line.frames),
      [...Array<number>(arpPolls.length - 1).fill(0), 1],
      'ARP polls until the one that brought the reply',
    );

    // What the injector dropped, replayed: the trace's transmits minus the losses are the frames on the wire, in order.
    const replay = new ReplayLink();
    const injector = new FaultInjectingDriver(replay, parseFaultPlan(spec));
    for (const line of messageTransmits) injector.transmit(messageFrame(line.type!, line.seq!));
    const wireMessages = onWire.sent
      .map((hex) => Buffer.from(hex, 'hex'))
      .filter((frame) => ethernetEtherType(frame) === ETHERTYPE_IPV4)
      .map((frame) => ({ type: netdumpType(frame, UDP_PAYLOAD_OFFSET), seq: netdumpSeqno(frame, UDP_PAYLOAD_OFFSET) }));
    assert.ok(injector.counts.tx.lost > 0);
    assert.deepEqual(wireMessages, replay.sent);
    assert.equal(onWire.sent.length, transmits.length - injector.counts.tx.lost);
    // And what arrived: the polls handed up every received frame but the ones the injector lost.
    replay.arrivals = onWire.received.map((hex) => Buffer.from(hex, 'hex'));
    let delivered = 0;
    const returned = injector.poll(1000, () => delivered++);
    assert.equal(returned, delivered, 'the poll returns the frames it handed up, not those the driver below gave it');
    assert.ok(injector.counts.rx.lost > 0);
    assert.equal(
      polls.reduce((sum, line) => sum + line.frames!, 0),
      delivered,
    );
    assert.equal(delivered, onWire.received.length - injector.counts.rx.lost);
    assert.equal(capture.droppedByKernel ?? 0, 0);
    t.diagnostic(
      `frames: ${onWire.sent.length} sent, ${onWire.received.length} received; trace: ${transmits.length} transmits, ${polls.length} polls ` +
        `(${arpPolls.length} for ARP), ${of('ack').length} acks, ${of('retransmit').length} rounds; injector lost ${injector.counts.tx.lost} tx, ${injector.counts.rx.lost} rx`,
    );
  });

  test('--inject with an unknown fault or a rate out of range: usage error, exit 2', async () => {
    for (const [spec, message] of [
      [
        'drop=0.1',
        "netdump: --inject: unknown fault 'drop' (known: loss, dup, reorder, delay, corrupt, each optionally tx. or rx., and seed, delay_ms)\n",
      ],
      ['loss=1.5', 'netdump: --inject: loss must be a probability from 0 to 1, not 1.5\n'],
    ] as const) {
      const result = await runNetdump([...hostArgs(hosts), '--inject', spec, hosts.client.iface, dumpFile]);
      assertStatus(result, 2);
      assert.equal(result.stderr, `${message}Try 'netdump --help' for more information.\n`);
      assert.equal(result.stdout, '');
    }
  });

  test('--pcap or --trace with an empty file name: usage error, exit 2, nothing written', async () => {
    for (const flag of ['--pcap', '--trace']) {
      const result = await runNetdump([...hostArgs(hosts), flag, '', hosts.client.iface, dumpFile]);
      assertStatus(result, 2);
      assert.equal(result.stderr, `netdump: ${flag} needs a file name\nTry 'netdump --help' for more information.\n`);
      assert.equal(result.stdout, '');
    }
  });
});

describe('parseFaultPlan', () => {
  const none = { loss: 0, dup: 0, reorder: 0, delay: 0, corrupt: 0 };

  test('a bare name applies to both directions; seed and delay_ms default to 1 and 2', () => {
    assert.deepEqual(parseFaultPlan('loss=0.05,seed=7'), { tx: { ...none, loss: 0.05 }, rx: { ...none, loss: 0.05 }, seed: 7, delayMs: 2 });
    assert.deepEqual(parseFaultPlan('dup=0.01,reorder=0.02'), {
      tx: { ...none, dup: 0.01, reorder: 0.02 },
      rx: { ...none, dup: 0.01, reorder: 0.02 },
      seed: 1,
      delayMs: 2,
    });
  });

  test('tx. and rx. prefixes set one direction; a later item overrides an earlier one', () => {
    assert.deepEqual(parseFaultPlan('tx.loss=0.1,rx.dup=0.2,delay_ms=5,seed=9'), {
      tx: { ...none, loss: 0.1 },
      rx: { ...none, dup: 0.2 },
      seed: 9,
      delayMs: 5,
    });
    assert.deepEqual(parseFaultPlan('loss=0.3,rx.loss=0,tx.corrupt=1,rx.delay=0'), {
      tx: { ...none, loss: 0.3, corrupt: 1 },
      rx: none,
      seed: 1,
      delayMs: 2,
    });
  });

  test('errors: unknown names, rates out of 0..1, a bad direction, an item without a number', () => {
    const known = '(known: loss, dup, reorder, delay, corrupt, each optionally tx. or rx., and seed, delay_ms)';
    assertNetdumpError(() => parseFaultPlan('drop=0.1'), 'EINVAL', `--inject: unknown fault 'drop' ${known}`);
    assertNetdumpError(() => parseFaultPlan('tx.drop=0.1'), 'EINVAL', `--inject: unknown fault 'tx.drop' ${known}`);
    assertNetdumpError(() => parseFaultPlan('loss=1.5'), 'EINVAL', '--inject: loss must be a probability from 0 to 1, not 1.5');
    assertNetdumpError(() => parseFaultPlan('rx.dup=-0.1'), 'EINVAL', '--inject: rx.dup must be a probability from 0 to 1, not -0.1');
    assertNetdumpError(() => parseFaultPlan('up.loss=0.1'), 'EINVAL', "--inject: 'up' is not tx or rx");
    assertNetdumpError(() => parseFaultPlan('loss'), 'EINVAL', "--inject: 'loss' is not NAME=NUMBER");
    assertNetdumpError(() => parseFaultPlan('loss=lots'), 'EINVAL', "--inject: 'loss=lots' is not NAME=NUMBER");
    assertNetdumpError(() => parseFaultPlan('loss=0.1,seed=Infinity'), 'EINVAL', "--inject: 'seed=Infinity' is not NAME=NUMBER");
    assertNetdumpError(() => parseFaultPlan('loss=0.1=2'), 'EINVAL', "--inject: 'loss=0.1=2' is not NAME=NUMBER");
    assertNetdumpError(() => parseFaultPlan('loss=0x1'), 'EINVAL', "--inject: 'loss=0x1' is not NAME=NUMBER");
    assertNetdumpError(() => parseFaultPlan('=0.1'), 'EINVAL', "--inject: '=0.1' is not NAME=NUMBER");
    assertNetdumpError(() => parseFaultPlan(','), 'EINVAL', "--inject: no faults given (for example 'loss=0.05,seed=7')");
    assertNetdumpError(() => parseFaultPlan(''), 'EINVAL', '--inject: no faults given');
    for (const seed of ['-1', '1.5', '4294967296', '1e3']) {
      assertNetdumpError(
        () => parseFaultPlan(`seed=${seed}`),
        'EINVAL',
        `--inject: seed must be a whole number from 0 to 4294967295, not ${seed}`,
      );
    }
    for (const ms of ['-5', '1e9']) {
      assertNetdumpError(() => parseFaultPlan(`delay_ms=${ms}`), 'EINVAL', `--inject: delay_ms must be from 0 to 10000, not ${ms}`);
    }
    assert.equal(parseFaultPlan('seed=4294967295,delay_ms=0.5').seed, 4294967295);
    assert.equal(parseFaultPlan('seed=4294967295,delay_ms=0.5').delayMs, 0.5);
    assert.equal(parseFaultPlan('loss=.5,').tx.loss, 0.5, 'a trailing comma and a leading dot are fine');
  });
});
