/**
 * The kernel's send loop, ack window, receive filter and next-hop search,
 * driven over a simulated link with a counting DELAY(): exact counts of
 * polls, delays, rounds and retransmits, and the exact console lines. No
 * socket and no root; nothing here waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AckWindow, WINDOW_SIZE } from '../../src/client/ack-window.js';
import { FREEBSD12, FREEBSD13, maxPayload, type Profile } from '../../src/client/profile.js';
import { ReliableSender, type SenderSettings } from '../../src/client/sender.js';
import type { NetdumpError } from '../../errors/index.js';
import { resolveNextHop } from '../../src/net/arp-resolver.js';
import { POLL_DELAY_US } from '../../src/net/behaviour.js';
import { DumpZones } from '../../src/net/dump-zones.js';
import { NetStack } from '../../src/net/stack.js';
import { NETDUMP_PORT, NETDUMP_VMCORE, parseIpv4Address } from '../../src/wire/index.js';
import { SIMULATED_SERVER_MAC, SimulatedServerLink } from '../helpers/simulated-link.js';

const CLIENT_IP = parseIpv4Address('198.18.0.1');
const SERVER_IP = parseIpv4Address('198.18.0.2');
const GATEWAY_IP = parseIpv4Address('198.18.1.1');
const BATCH = new Uint8Array(64 * 1024).map((_, index) => index & 0xff);
/** 64 KiB in 1448-byte payloads (MTU 1500). */
const PACKETS_PER_BATCH = 46;

interface Rig {
  link: SimulatedServerLink;
  stack: NetStack;
  /** Every DELAY() the loops asked for, in microseconds. */
  delays: number[];
  console: () => string;
}

function rig(profile: Profile, options: { mtu?: number; gatewayIp?: number; answersArpFor?: number[]; debug?: boolean } = {}): Rig {
  const mtu = options.mtu ?? 1500;
  const link = new SimulatedServerLink(CLIENT_IP, SERVER_IP, { mtu, answersArpFor: options.answersArpFor });
  const delays: number[] = [];
  let printed = '';
  const stack = new NetStack(
    link,
    { clientIp: CLIENT_IP, serverIp: SERVER_IP, gatewayIp: options.gatewayIp ?? 0, mac: link.facts().mac, mtu },
    {
      behaviour: profile,
      delay: (microseconds) => delays.push(microseconds),
      print: (text) => (printed += text),
      debug: options.debug ?? false,
    },
    new DumpZones(link.init()),
  );
  return { link, stack, delays, console: () => printed };
}

/** A sender on the rig's stack, its console lines collected one print at a time. */
function logged(r: Rig, profile: Profile, settings: Partial<SenderSettings> = {}): { send: ReliableSender; log: string[] } {
  const log: string[] = [];
  r.stack.nextHopMac = SIMULATED_SERVER_MAC;
  const send = new ReliableSender(r.stack, {
    polls: 3,
    retries: 2,
    maxPayload: maxPayload(profile, r.stack.config.mtu),
    ackBugCompat: false,
    ackFunctionName: 'debugnet_handle_ack',
    print: (text) => log.push(text),
    ...settings,
  });
  return { send, log };
}

function thrown(action: () => void): NetdumpError {
  try {
    action();
  } catch (error) {
    return error as NetdumpError;
  }
  assert.fail('expected an error');
}

describe('ReliableSender over a simulated link', () => {
  test('a whole batch acked at the first poll: 46 packets, one poll, one DELAY(500), nothing printed', () => {
    const r = rig(FREEBSD13);
    const { send, log } = logged(r, FREEBSD13);
    send.send(NETDUMP_VMCORE, 0, BATCH);
    assert.equal(r.link.received.length, PACKETS_PER_BATCH);
    assert.deepEqual(
      r.link.received.slice(0, 2).map((m) => [m.seqno, m.offset, m.len]),
      [
        [1, 0, 1448],
        [2, 1448, 1448],
      ],
    );
    assert.deepEqual(r.link.received.at(-1), { type: NETDUMP_VMCORE, seqno: 46, offset: 45 * 1448, len: 65536 - 45 * 1448 });
    assert.deepEqual(send.stats, { batches: 1, packets: 46, retransmittedPackets: 0, retransmitRounds: 0, polls: 1, acks: 46 });
    assert.deepEqual(r.delays, [POLL_DELAY_US]);
    assert.equal(send.seqno, 47);
    assert.deepEqual(log, []);
    assert.deepEqual(r.link.vmcoreImage(), Buffer.from(BATCH));
  });

  test('one ack lost: polls+1 wait steps, one round resends only that packet, ". " once; the observer hears it all', () => {
    const r = rig(FREEBSD13);
    const ticks: number[] = [];
    const rounds: Array<[number, number]> = [];
    const batches: number[][] = [];
    const acked: number[] = [];
    const resent: number[] = [];
    const observer = {
      batch: (...fields: number[]) => batches.push(fields),
      batchAcked: (firstSeqno: number) => acked.push(firstSeqno),
      tick: (us: number) => ticks.push(us),
      ack: () => undefined,
      resend: (seqno: number) => resent.push(seqno),
      retransmitRound: (round: number, packets: number) => rounds.push([round, packets]),
    };
    const { send, log } = logged(r, FREEBSD13, { observer });
    r.link.answer = (message, sighting) => (message.seqno === 5 && sighting === 0 ? [] : [{ seqno: message.seqno }]);
    send.send(NETDUMP_VMCORE, 0, BATCH);
    // polls = 3: four wait steps (0..3) find the batch incomplete, the fifth check resends, one more step brings the ack.
    assert.deepEqual(send.stats, { batches: 1, packets: 46, retransmittedPackets: 1, retransmitRounds: 1, polls: 5, acks: 46 });
    assert.deepEqual(
      r.link.received.slice(46).map((m) => m.seqno),
      [5],
    );
    assert.deepEqual(r.delays, Array(5).fill(POLL_DELAY_US));
    assert.deepEqual(ticks, Array(5).fill(POLL_DELAY_US));
    assert.deepEqual(rounds, [[1, 1]]);
    assert.deepEqual(log, ['. ']);
    assert.deepEqual(batches, [[NETDUMP_VMCORE, 0, 1, 46, BATCH.length]], 'type, offset, first seqno, packets, bytes');
    assert.deepEqual(resent, [5]);
    assert.deepEqual(acked, [1]);
  });

  test('an ack that never comes: retries+1 rounds, then ETIMEDOUT after retries+2 rounds of polls+1 wait steps', () => {
    const r = rig(FREEBSD13);
    const { send, log } = logged(r, FREEBSD13);
    r.link.answer = (message) => (message.seqno === 5 ? [] : [{ seqno: message.seqno }]);
    const error = thrown(() => send.send(NETDUMP_VMCORE, 0, BATCH));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.equal(error.message, 'no ack for 1 of 46 packets after 4 rounds');
    assert.deepEqual(log, ['. ', '. ', '. ']);
    assert.equal(send.stats.retransmitRounds, 3);
    assert.equal(send.stats.retransmittedPackets, 3);
    assert.equal(send.stats.polls, 4 * 4);
    assert.equal(r.delays.length, 16);
    assert.equal(send.seqno, 1, 'a failed batch does not advance the sequence');
  });

  test('an ack 64 or more ahead: "ACK n too far in future!", ignored; one behind the batch: ignored silently', () => {
    const r = rig(FREEBSD13);
    const { send, log } = logged(r, FREEBSD13, { ackFunctionName: 'debugnet_handle_ack' });
    send.send(NETDUMP_VMCORE, 0, BATCH.subarray(0, 1448));
    r.link.answer = (message) => [{ seqno: message.seqno }, { seqno: message.seqno + WINDOW_SIZE }, { seqno: message.seqno - 1 }];
    send.send(NETDUMP_VMCORE, 1448, BATCH.subarray(0, 1448));
    assert.deepEqual(log, ['debugnet_handle_ack: ACK 66 too far in future!\n']);
    assert.equal(send.stats.acks, 2);
    assert.equal(send.stats.polls, 2);
  });

  test('an ack for a sequence number inside the window but never sent: the batch can never complete (spec §3.3)', () => {
    const r = rig(FREEBSD13);
    const { send, log } = logged(r, FREEBSD13);
    r.link.answer = (message) => (message.seqno === 1 ? [{ seqno: 1 }, { seqno: 51 }] : [{ seqno: message.seqno }]);
    const error = thrown(() => send.send(NETDUMP_VMCORE, 0, BATCH));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(
      error.message,
      /^all 46 packets were acked, and so was sequence number 51, which was never sent: .* gave up after 4 rounds$/,
    );
    assert.deepEqual(log, ['. ', '. ', '. ']);
    assert.equal(send.stats.retransmittedPackets, 0, 'nothing is unacked, so each round resends nothing');
  });

  test('more than 64 packets (MTU 576): refused without --ack-bug-compat; with it, the kernel warns and rejects the acks past 64', () => {
    const small = rig(FREEBSD13, { mtu: 576 });
    const refused = thrown(() => logged(small, FREEBSD13));
    assert.equal(refused.code, 'EMSGSIZE');
    assert.equal(
      refused.message,
      'a 64 KiB batch needs 126 packets of 524 bytes, more than the 64-packet ack window; use an MTU of at least 1076',
    );
    const r = rig(FREEBSD13, { mtu: 576 });
    const { send, log } = logged(r, FREEBSD13, { ackBugCompat: true });
    send.send(NETDUMP_VMCORE, 0, BATCH);
    assert.equal(r.link.received.length, 126);
    assert.equal(
      log[0],
      'Warning: Sent more than 64 packets (126). Acknowledgements will fail unless the size of rcvd_acks/want_acks is increased.\n',
    );
    assert.deepEqual(
      log.slice(1),
      Array.from({ length: 126 - 64 }, (_, index) => `debugnet_handle_ack: ACK ${65 + index} too far in future!\n`),
    );
    // Packets 0..63 set every bit the 126 packets want, aliased: the batch completes at the first poll.
    assert.deepEqual([send.stats.polls, send.stats.acks, send.stats.retransmittedPackets], [1, 64, 0]);
  });

  test("--ack-bug-compat: the lost ack of packet 33 hides behind packet 1's (one bit); packet 14 has no alias and is resent", () => {
    for (const [lostSeqno, compat, resent] of [
      [34, true, 0],
      [34, false, 1],
      [15, true, 1],
    ] as const) {
      const r = rig(FREEBSD13);
      const { send } = logged(r, FREEBSD13, { ackBugCompat: compat });
      r.link.answer = (message, sighting) => (message.seqno === lostSeqno && sighting === 0 ? [] : [{ seqno: message.seqno }]);
      send.send(NETDUMP_VMCORE, 0, BATCH);
      assert.equal(send.stats.retransmittedPackets, resent, `seqno ${lostSeqno}, compat ${compat}`);
      assert.equal(send.stats.polls, resent === 0 ? 1 : 5);
    }
  });
});

describe('AckWindow', () => {
  const wantAll = (window: AckWindow, count: number) => {
    for (let index = 0; index < count; index++) window.want(index);
  };

  test('correct: 64 separate bits; complete only when every wanted bit is acked', () => {
    const window = new AckWindow(false);
    wantAll(window, 46);
    for (let index = 0; index < 46; index++) if (index !== 33) window.ack(index);
    assert.equal(window.complete(), false);
    assert.deepEqual([window.isAcked(33), window.isAcked(1), window.missing(46)], [false, true, 1]);
    window.ack(33);
    assert.equal(window.complete(), true);
    window.ack(50);
    assert.deepEqual([window.complete(), window.ackedBeyond(46)], [false, 50]);
    window.reset();
    assert.deepEqual([window.complete(), window.isAcked(1), window.missing(46)], [true, false, 46]);
  });

  test('bug-compatible: packet i and i+32 share a bit, and bit 31 sign-extends over bits 31..63', () => {
    const window = new AckWindow(true);
    wantAll(window, 46);
    window.ack(1);
    assert.equal(window.isAcked(33), true, 'the ack of packet 1 is also the ack of packet 33');
    for (let index = 0; index < 46; index++) if (index !== 33) window.ack(index);
    assert.equal(window.complete(), true, 'the lost packet 33 is never noticed');
    assert.equal(window.missing(46), 0);

    const short = new AckWindow(true);
    wantAll(short, 4);
    short.ack(31);
    assert.deepEqual([short.isAcked(63), short.complete(), short.ackedBeyond(4)], [true, false, 31], 'an ack of 31 sets 32 bits');
    for (let index = 0; index < 4; index++) short.ack(index);
    assert.equal(short.complete(), false, 'the stray bits are never wanted');
  });
});

describe('NetStack receive filter', () => {
  function filter(profile: Profile, ack: Parameters<SimulatedServerLink['ackFrame']>[0], options: { arpDone?: boolean } = {}) {
    const r = rig(profile, { debug: true });
    if (options.arpDone !== false) r.stack.nextHopMac = SIMULATED_SERVER_MAC;
    const acks: number[] = [];
    r.stack.onAck = (seqno) => acks.push(seqno);
    r.stack.input(r.link.ackFrame(ack), 0);
    return { acks, console: r.console() };
  }

  test("13+: an ack is exactly 4 bytes; 3 and 5 are dropped with the kernel's debug lines", () => {
    assert.deepEqual(filter(FREEBSD13, { seqno: 7 }).acks, [7]);
    const five = filter(FREEBSD13, { seqno: 7, payloadBytes: 5 });
    assert.deepEqual([five.acks, five.console], [[], 'netdump: ignoring unexpected non-ACK packet on half-duplex connection.\n']);
    assert.equal(filter(FREEBSD13, { seqno: 7, payloadBytes: 3 }).console, 'netdump: ignoring small ACK packet\n');
    assert.equal(filter(FREEBSD13, { seqno: 7, payloadBytes: 0 }).console, 'netdump: ignoring small ACK packet\n');
  });

  test('12.x: an ack is 4 bytes or more, read from its first 4; fewer is a small packet', () => {
    assert.deepEqual(filter(FREEBSD12, { seqno: 7, payloadBytes: 5 }).acks, [7]);
    assert.deepEqual(filter(FREEBSD12, { seqno: 9, payloadBytes: 12 }).acks, [9]);
    const small = filter(FREEBSD12, { seqno: 7, payloadBytes: 3 });
    assert.deepEqual([small.acks, small.console], [[], 'netdump: ignoring small packet\n']);
  });

  test('13+ ignores IP until ARP is done; 12.x does not', () => {
    const early13 = filter(FREEBSD13, { seqno: 7 }, { arpDone: false });
    assert.deepEqual([early13.acks, early13.console], [[], 'netdump: ignoring IP before ARP is done\n']);
    assert.deepEqual(filter(FREEBSD12, { seqno: 7 }, { arpDone: false }).acks, [7]);
  });

  test("server-port latch: 13+ takes the first ack's port for good; 12.x re-latches while the port is still 20023", () => {
    const ports = (profile: Profile, sources: number[]) => {
      const r = rig(profile);
      r.stack.nextHopMac = SIMULATED_SERVER_MAC;
      return sources.map((srcPort) => {
        r.stack.input(r.link.ackFrame({ seqno: 1, srcPort }), 0);
        return r.stack.serverPort;
      });
    };
    assert.deepEqual(ports(FREEBSD13, [NETDUMP_PORT, 30000, 40000]), [NETDUMP_PORT, NETDUMP_PORT, NETDUMP_PORT]);
    assert.deepEqual(ports(FREEBSD12, [NETDUMP_PORT, 30000, 40000]), [NETDUMP_PORT, 30000, 30000]);
    assert.deepEqual(ports(FREEBSD13, [30000, 40000]), [30000, 30000]);
  });
});

describe('next-hop resolution (ARP)', () => {
  /** resolveNextHop with 3 requests of up to 5 wait steps each, as -o arp_retries=3 -o polls=5. */
  function resolve(profile: Profile, options: { gatewayIp?: number; answersArpFor?: number[] }) {
    const log: string[] = [];
    const r = rig(profile, options);
    let error: NetdumpError | undefined;
    try {
      resolveNextHop(r.stack, { arpRetries: 3, polls: 5, behaviour: profile, print: (text) => log.push(text) });
    } catch (caught) {
      error = caught as NetdumpError;
    }
    return { r, error, console: log.join('') };
  }

  test('the server answers the first request: one request, one wait step', () => {
    const { r, error, console } = resolve(FREEBSD13, {});
    assert.equal(error, undefined);
    assert.deepEqual(r.stack.nextHopMac, SIMULATED_SERVER_MAC);
    assert.deepEqual([r.link.arpRequests, r.link.polls, r.delays], [[SERVER_IP], 1, [POLL_DELAY_US]]);
    assert.equal(console, '');
  });

  test('13+: the server is silent, the gateway answers: 3 requests of 5 wait steps, then the gateway', () => {
    const { r, error, console } = resolve(FREEBSD13, { gatewayIp: GATEWAY_IP, answersArpFor: [GATEWAY_IP] });
    assert.equal(error, undefined);
    assert.deepEqual(r.link.arpRequests, [SERVER_IP, SERVER_IP, SERVER_IP, GATEWAY_IP]);
    assert.equal(r.link.polls, 3 * 5 + 1);
    assert.equal(r.delays.length, 16);
    assert.equal(console, '(ARP retry)(ARP retry)(ARP retry)\nFailed to ARP server, trying to reach gateway...\n');
  });

  test("13+: nothing answers and no gateway: ETIMEDOUT after the server's 3 requests", () => {
    const { r, error, console } = resolve(FREEBSD13, { answersArpFor: [] });
    assert.equal(error?.code, 'ETIMEDOUT');
    assert.deepEqual([r.link.arpRequests.length, r.link.polls], [3, 15]);
    assert.equal(console, '(ARP retry)(ARP retry)(ARP retry)\nFailed to ARP server.\n');
  });

  test('13+ with the gateway equal to the server asks it again; 12.x does not (spec §3.2)', () => {
    const thirteen = resolve(FREEBSD13, { gatewayIp: SERVER_IP, answersArpFor: [] });
    assert.deepEqual(thirteen.r.link.arpRequests, Array(6).fill(SERVER_IP));
    assert.equal(
      thirteen.console,
      `${'(ARP retry)'.repeat(3)}\nFailed to ARP server, trying to reach gateway...\n${'(ARP retry)'.repeat(3)}\nFailed to ARP gateway.\n`,
    );
    const twelve = resolve(FREEBSD12, { gatewayIp: SERVER_IP, answersArpFor: [] });
    assert.deepEqual(twelve.r.link.arpRequests, Array(3).fill(SERVER_IP));
    assert.equal(twelve.console, `${'(ARP retry)'.repeat(3)}\nARP timed out.\n`);
    assert.equal(twelve.error?.code, 'ETIMEDOUT');
  });

  test('12.x: a distinct gateway is tried after the server', () => {
    const { r, error, console } = resolve(FREEBSD12, { gatewayIp: GATEWAY_IP, answersArpFor: [GATEWAY_IP] });
    assert.equal(error, undefined);
    assert.deepEqual(r.link.arpRequests, [SERVER_IP, SERVER_IP, SERVER_IP, GATEWAY_IP]);
    assert.equal(console, `${'(ARP retry)'.repeat(3)}Failed to ARP server, trying to reach gateway...\n`);
  });
});
