/**
 * The netdump client when things go wrong, as a real process: no server to
 * ARP, a server that never acks the data, and acks that the receive filter
 * (spec §3.5) must ignore, each flawed in one way, injected onto the wire.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';

import { PacketSocket } from '../../native/index.js';
import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import {
  ARP_OP_REQUEST,
  ETHERNET_HEADER_SIZE,
  ETHERNET_SRC_OFFSET,
  ETHERTYPE_ARP,
  formatIpv4Address,
  formatMac,
  parseArp,
  readMac,
} from '../../src/wire/index.js';
import { AckInjector, FakeServer, type AckFlaw, type SeenMessage } from '../helpers/fake-server.js';
import { assertStatus, makeTempDir, removeDir, runNetdump, writeRandomDump } from '../helpers/netdump-cli.js';

const EXIT_ARP = 3;
const EXIT_HERALD = 4;
const EXIT_DATA = 5;
const FINISHED = 2;
const VMCORE = 3;
const KDH = 4;
/** 300 KiB + 5: the first VMCORE batch is seq 2..47 (46 packets of one 64 KiB write), the next starts at 48. */
const DUMP_SIZE = 300 * 1024 + 5;
const FIRST_BATCH = { first: 2, count: 46 };
const NEXT_BATCH_SEQ = 48;

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('netdump client: no server to ARP', () => {
  let hosts: TestHosts;
  let arpWatch: PacketSocket;

  before(() => {
    hosts = createTestHostPair();
    // Sees every ARP frame on the server's link: the client's requests included.
    arpWatch = PacketSocket.open(hosts.server.iface, { netns: hosts.server.ns, ethertype: ETHERTYPE_ARP });
  });

  after(() => {
    arpWatch?.close();
    hosts?.destroy();
  });

  /** The client's who-has requests for `target` seen on the server's link since the last call. */
  function whoHasCount(target: string): number {
    let count = 0;
    for (;;) {
      const frames = arpWatch.recvBatch(64);
      if (frames.length === 0) return count;
      for (const frame of frames) {
        const arp = parseArp(frame.subarray(ETHERNET_HEADER_SIZE));
        const fromClient = formatMac(readMac(frame, ETHERNET_SRC_OFFSET)) === hosts.client.mac;
        if (fromClient && arp.op === ARP_OP_REQUEST && formatIpv4Address(arp.targetIp) === target) count++;
      }
    }
  }

  const cases = [
    {
      profile: 'freebsd13',
      stdout:
        'debugnet: overwriting mbuf zone pointers\ndebugnet_connect: searching for server MAC...\n(ARP retry)(ARP retry)\n' +
        'Failed to ARP server.\ndebugnet_connect: failed to locate MAC address\ndebugnet: restoring mbuf zone pointers\n',
    },
    {
      profile: 'freebsd12',
      stdout:
        'netdump: overwriting mbuf zone pointers\nnetdump in progress. searching for server...\n(ARP retry)(ARP retry)\n' +
        'ARP timed out.\nfailed to locate server MAC address\n',
    },
  ];
  for (const { profile, stdout } of cases) {
    test(`${profile}: exit 3 after arp-retries × polls × 0.5 ms, with the kernel's messages`, async () => {
      const arpRetries = 2;
      const polls = 400;
      whoHasCount('198.18.0.99');
      const args = ['--netns', hosts.client.ns, '-s', '198.18.0.99', '-c', hosts.client.ip, '--profile', profile];
      const result = await runNetdump([
        ...args,
        '--arp-retries',
        String(arpRetries),
        '--polls',
        String(polls),
        '--synthetic',
        '9M',
        hosts.client.iface,
      ]);
      assertStatus(result, EXIT_ARP);
      assert.equal(result.stdout, stdout);
      assert.equal(result.stderr, 'netdump: no ARP reply from the server or the gateway\n');
      const minimumMs = arpRetries * polls * 0.5;
      assert.ok(result.ms >= minimumMs, `took ${result.ms.toFixed(0)} ms, less than ${minimumMs} ms of polling`);
      await settle(50);
      assert.equal(whoHasCount('198.18.0.99'), arpRetries, 'one broadcast who-has per attempt');
    });
  }
});

describe('netdump client: a server that does not ack (nothing on 20023, or a fake that acks only the herald)', () => {
  let hosts: TestHosts;
  let dir: string;
  let dumpFile: string;
  let server: FakeServer | undefined;
  let injector: AckInjector;

  before(() => {
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-client-failures-');
    dumpFile = writeRandomDump(dir, 'dump.bin', DUMP_SIZE).file;
    injector = new AckInjector(hosts);
  });

  afterEach(() => {
    server?.stop();
    server = undefined;
  });

  after(() => {
    injector?.close();
    hosts?.destroy();
    removeDir(dir);
  });

  const firstData = (message: SeenMessage) => message.type === VMCORE && message.seq === FIRST_BATCH.first;

  const heraldCases = [
    {
      profile: 'freebsd13',
      opening: 'debugnet: overwriting mbuf zone pointers\ndebugnet_connect: searching for server MAC...\n',
      failure: 'debugnet_connect: failed to herald debugnet server\ndebugnet: restoring mbuf zone pointers\n',
    },
    {
      profile: 'freebsd12',
      opening: 'netdump: overwriting mbuf zone pointers\nnetdump in progress. searching for server...\n',
      failure: 'failed to contact netdump server\n',
    },
  ];
  for (const { profile, opening, failure } of heraldCases) {
    test(`${profile}: nothing listens on 20023 (the server host answers ARP only): exit 4 after retries + 2 herald rounds`, async () => {
      const args = [
        '--netns',
        hosts.client.ns,
        '-s',
        hosts.server.ip,
        '-c',
        hosts.client.ip,
        '--profile',
        profile,
        '--polls',
        '50',
        '--retries',
        '1',
      ];
      const result = await runNetdump([...args, hosts.client.iface, dumpFile]);
      assertStatus(result, EXIT_HERALD);
      assert.equal(result.stdout, `${opening}. . ${failure}`);
      assert.equal(result.stderr, 'netdump: no ack for 1 of 1 packets after 3 rounds\n');
    });
  }

  test('exit 5 after exactly retries + 2 rounds, ". " per retransmit round, and never a FINISHED', async () => {
    server = await FakeServer.start(hosts);
    const retries = 2;
    // Rounds of 200 ms: the fake server's herald ack takes three process hops (UDP peer, this process, UDP
    // peer), and any '. ' of a herald retransmission would break the exact console checks below.
    const args = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--polls', '400', '--retries', String(retries)];
    const result = await runNetdump([...args, hosts.client.iface, dumpFile]);
    assertStatus(result, EXIT_DATA);
    assert.ok(
      result.stdout.startsWith(
        `debugnet: overwriting mbuf zone pointers\ndebugnet_connect: searching for server MAC...\nnetdumping to 198.18.0.2 (${hosts.server.mac})\nDumping 0 out of 1 MB:`,
      ),
      result.stdout,
    );
    assert.ok(
      result.stdout.endsWith(`${'. '.repeat(retries + 1)}\n** DUMP FAILED (ERROR 60) **\ndebugnet: restoring mbuf zone pointers\n`),
      result.stdout,
    );
    assert.equal(result.stdout.split('. ').length - 1, retries + 1, `". " once per retransmit round: ${JSON.stringify(result.stdout)}`);
    assert.ok(!result.stdout.includes('netdump finished'));
    assert.equal(result.stderr, `netdump: no ack for 46 of 46 packets after ${retries + 2} rounds\n`);
    await settle(200);
    assert.equal(server.count(firstData), retries + 2, '1 original + (retries + 1) retransmissions of the batch');
    assert.equal(
      server.count((message) => message.type === VMCORE && message.seq === FIRST_BATCH.first + FIRST_BATCH.count - 1),
      retries + 2,
    );
    assert.equal(
      server.count((message) => message.type === FINISHED),
      0,
      'no FINISHED after a failed send',
    );
    assert.equal(
      server.count((message) => message.type === KDH),
      0,
      'no KDH either',
    );
    assert.equal(
      server.count((message) => message.seq >= NEXT_BATCH_SEQ),
      0,
      'nothing beyond the first batch',
    );
  });

  test('with the default 2000 polls, the first retransmit round says once (on stderr) that a round waits 1 s', async () => {
    server = await FakeServer.start(hosts);
    const args = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--retries', '1'];
    const result = await runNetdump([...args, hosts.client.iface, dumpFile]);
    assertStatus(result, EXIT_DATA);
    assert.equal(
      result.stderr,
      'netdump: retransmitting: each round waits 2000 polls of 0.5 ms (1 s) first, as the kernel does; --polls shortens it\n' +
        'netdump: no ack for 46 of 46 packets after 3 rounds\n',
    );
    assert.ok(result.stdout.endsWith('. . \n** DUMP FAILED (ERROR 60) **\ndebugnet: restoring mbuf zone pointers\n'), result.stdout);
  });

  const RETRANSMIT_NOTE =
    'netdump: retransmitting: each round waits 2000 polls of 0.5 ms (1 s) first, as the kernel does; --polls shortens it\n';

  test("fast: the herald goes through the kernel's loop, so its first retransmit round says the note", async () => {
    const args = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--profile', 'fast', '--retries', '0'];
    const result = await runNetdump([...args, hosts.client.iface, dumpFile]);
    assertStatus(result, EXIT_HERALD);
    assert.equal(result.stderr, `${RETRANSMIT_NOTE}netdump: no ack for 1 of 1 packets after 2 rounds\n`);
  });

  test("fast: the window's resends wait a measured round trip, not 2000 polls: no note, and the give-up in ms", async () => {
    server = await FakeServer.start(hosts);
    const args = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--profile', 'fast', '--retries', '0'];
    const result = await runNetdump([...args, hosts.client.iface, dumpFile]);
    assertStatus(result, EXIT_DATA);
    // The give-up: (retries + 2) × (polls + 1) × 0.5 ms = 2001 ms without an ack; the window was the first batch.
    assert.match(result.stderr, /^netdump: no ack for 46 packets in flight \(the oldest seq 2\) for 200\d ms\n$/);
    assert.ok(server.count(firstData) > 1, 'the window resent the first packet on its timeout');
  });

  test('fast, pinned to one CPU (so started again under --single-threaded): a SIGTERM to the client stops the dump, and it dies of it', async () => {
    server = await FakeServer.start(hosts);
    const args = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--profile', 'fast'];
    const result = await runNetdump([...args, hosts.client.iface, dumpFile], {
      cpu: 0,
      onStdout: (chunk, signal) => chunk.includes('Dumping') && signal('SIGTERM'),
    });
    assert.equal(result.signal, 'SIGTERM', `${result.status}: ${result.stderr}`);
    assert.equal(result.stderr, 'netdump: interrupted by SIGTERM\n');
    assert.ok(!result.stdout.includes('DUMP FAILED'), result.stdout);
  });

  /**
   * Runs the client; once the first VMCORE packet arrives, injects acks for `extraSeqs`, then for the whole
   * first batch with `flaw`. The extra acks go first: sent after the batch's, they could land after a poll
   * that had already seen the batch complete (the client polls every 0.5 ms), and the next batch would go out.
   */
  async function injectAcks(profile: string, flaw: AckFlaw, extraSeqs: number[] = []) {
    server = await FakeServer.start(hosts);
    const args = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--profile', profile, '--debug'];
    const running = runNetdump([...args, '--polls', '200', '--retries', '3', hosts.client.iface, dumpFile]);
    try {
      await server.waitFor(firstData, 5000, 'first VMCORE packet');
    } catch (error) {
      const early = await running;
      assert.fail(`${(error as Error).message}; netdump exited ${early.status}\nstdout:\n${early.stdout}\nstderr:\n${early.stderr}`);
    }
    for (const seq of extraSeqs) injector.ackAll(seq, 1, 'none');
    injector.ackAll(FIRST_BATCH.first, FIRST_BATCH.count, flaw);
    const result = await running;
    await settle(100);
    return { result, server };
  }

  const flaws: Array<{ flaw: AckFlaw; profile: string; debug: string }> = [
    { flaw: 'wrong-dst-mac', profile: 'freebsd13', debug: 'netdump: discard frame with incorrect destination addr\n' },
    { flaw: 'wrong-src-ip', profile: 'freebsd13', debug: 'netdump: drop packet not from server\n' },
    { flaw: 'wrong-dst-port', profile: 'freebsd13', debug: 'netdump: not on the netdump port.\n' },
    { flaw: 'vlan-tagged', profile: 'freebsd13', debug: 'netdump: ignoring vlan packets\n' },
    { flaw: 'five-byte-payload', profile: 'freebsd13', debug: 'netdump: ignoring unexpected non-ACK packet on half-duplex connection.\n' },
    { flaw: 'wrong-dst-mac', profile: 'freebsd12', debug: 'netdump: discard frame with incorrect destination addr\n' },
    { flaw: 'vlan-tagged', profile: 'freebsd12', debug: 'netdump: ignoring vlan packets\n' },
  ];
  for (const { flaw, profile, debug } of flaws) {
    test(`${profile}: acks with ${flaw} are ignored: the batch never completes, exit 5`, async () => {
      const { result, server } = await injectAcks(profile, flaw);
      assertStatus(result, EXIT_DATA);
      assert.equal(result.stdout.split(debug).length - 1, FIRST_BATCH.count, `one "${debug.trim()}" per injected ack:\n${result.stdout}`);
      assert.equal(
        server.count((message) => message.seq >= NEXT_BATCH_SEQ),
        0,
        'the next batch was never sent',
      );
      assert.equal(
        server.count((message) => message.type === FINISHED),
        0,
      );
      const closing = profile === 'freebsd13' ? 'debugnet: restoring mbuf zone pointers\n' : '';
      assert.ok(result.stdout.endsWith(`\n** DUMP FAILED (ERROR 60) **\n${closing}`), result.stdout);
    });
  }

  test('control: the same acks with nothing wrong complete the batch (the next batch is sent)', async () => {
    const { result, server } = await injectAcks('freebsd13', 'none');
    assertStatus(result, EXIT_DATA); // the second batch is never acked
    await server.waitFor((message) => message.seq === NEXT_BATCH_SEQ && message.type === VMCORE, 1000, 'the next batch');
    assert.equal(
      server.count((message) => message.seq === NEXT_BATCH_SEQ && message.offset === 65536n),
      server.count((message) => message.seq === NEXT_BATCH_SEQ),
    );
    assert.ok(!/netdump: (discard|drop|ignoring|not on)/.test(result.stdout), `no ack was dropped:\n${result.stdout}`);
  });

  test('an ack for a seq past the batch but inside the 64-packet window: the batch never completes, and the error says why', async () => {
    const stray = FIRST_BATCH.first + 50;
    const { result, server } = await injectAcks('freebsd13', 'none', [stray]);
    assertStatus(result, EXIT_DATA);
    assert.equal(
      server.count((message) => message.seq >= NEXT_BATCH_SEQ),
      0,
      'the next batch was never sent',
    );
    assert.equal(
      result.stderr,
      `netdump: all 46 packets were acked, and so was sequence number ${stray}, which was never sent: ` +
        'the kernel waits for its acked bitmap to equal the sent one, so the batch never completes (spec §3.3); gave up after 5 rounds\n',
    );
  });

  test('freebsd12 takes a 5-byte ack (12.x reads any payload of 4 bytes or more): the batch completes', async () => {
    const { result, server } = await injectAcks('freebsd12', 'five-byte-payload');
    assertStatus(result, EXIT_DATA);
    await server.waitFor((message) => message.seq === NEXT_BATCH_SEQ && message.type === VMCORE, 1000, 'the next batch');
    assert.ok(!result.stdout.includes('ignoring'), result.stdout);
  });
});
