/**
 * The fast profile's window (PipelinedSender, WindowControl) over the
 * simulated link, with a clock that moves 10 µs per poll: exact packets on
 * the wire, resends, rounds, window sizes and the give-up. No socket, no
 * root; nothing here waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { NetdumpError } from '../../errors/index.js';
import { PipelinedSender, REORDER_THRESHOLD, TRANSMITS_PER_POLL } from '../../src/client/pipelined-sender.js';
import { MIN_RTO_US } from '../../src/client/retransmit-timer.js';
import { FAST, maxPayload } from '../../src/client/profile.js';
import type { SenderStats } from '../../src/client/sender.js';
import { MAX_WINDOW_BATCHES, MAX_WINDOW_PACKETS, MIN_WINDOW, WindowControl } from '../../src/client/window-control.js';
import { DumpZones } from '../../src/net/dump-zones.js';
import { NetStack } from '../../src/net/stack.js';
import { parseIpv4Address } from '../../src/wire/index.js';
import { SIMULATED_SERVER_MAC, SimulatedServerLink, type ReceivedMessage, type SimulatedAck } from '../helpers/simulated-link.js';

const CLIENT_IP = parseIpv4Address('198.18.0.1');
const SERVER_IP = parseIpv4Address('198.18.0.2');
const BATCH = new Uint8Array(64 * 1024).map((_, index) => (index * 7) & 0xff);
const PACKETS_PER_BATCH = 46;
const POLL_STEP_US = 10;

interface Events {
  batches: number[][];
  acked: number[];
  resent: number[];
  rounds: Array<[number, number]>;
}

interface Rig {
  link: SimulatedServerLink;
  sender: PipelinedSender;
  stats: SenderStats;
  events: Events;
  /** The simulated clock, µs. */
  now: () => number;
  /** Moves the clock on, as a slow dumper between two writes would. */
  advance: (micros: number) => void;
  /** The clock at each arrival of a message at the server, by seqno. */
  arrivals: Map<number, number[]>;
}

interface RigOptions {
  giveUpMicros?: number;
  /** Called before each poll (1 first) takes what the link holds: a test's server may inject acks then. */
  beforePoll?: (link: SimulatedServerLink, poll: number) => void;
  /** Called after each poll has read the link. */
  afterPoll?: (poll: number) => void;
}

function rig(answer?: (message: ReceivedMessage, sighting: number) => SimulatedAck[], options: RigOptions = {}): Rig {
  const link = new SimulatedServerLink(CLIENT_IP, SERVER_IP);
  let clock = 0;
  let polls = 0;
  const poll = link.poll.bind(link);
  link.poll = (count, input) => {
    clock += POLL_STEP_US;
    options.beforePoll?.(link, ++polls);
    const received = poll(count, input);
    options.afterPoll?.(polls);
    return received;
  };
  const arrivals = new Map<number, number[]>();
  link.answer = (message, sighting) => {
    arrivals.set(message.seqno, [...(arrivals.get(message.seqno) ?? []), clock]);
    return answer === undefined ? [{ seqno: message.seqno }] : answer(message, sighting);
  };
  const stack = new NetStack(
    link,
    { clientIp: CLIENT_IP, serverIp: SERVER_IP, gatewayIp: 0, mac: link.facts().mac, mtu: 1500 },
    { behaviour: FAST, delay: () => assert.fail('the window never calls DELAY()'), print: () => undefined, debug: false },
    new DumpZones(link.init()),
  );
  stack.nextHopMac = SIMULATED_SERVER_MAC;
  const events: Events = { batches: [], acked: [], resent: [], rounds: [] };
  const stats: SenderStats = { batches: 0, packets: 0, retransmittedPackets: 0, retransmitRounds: 0, polls: 0, acks: 0 };
  const sender = new PipelinedSender(
    stack,
    {
      maxPayload: maxPayload(FAST, 1500),
      initialWindow: PACKETS_PER_BATCH,
      giveUpMicros: options.giveUpMicros ?? 1_000_000,
      now: () => clock,
      observer: {
        batch: (...fields) => events.batches.push(fields),
        batchAcked: (seqno) => events.acked.push(seqno),
        tick: () => assert.fail('the window has no DELAY() ticks'),
        ack: () => undefined,
        resend: (seqno) => events.resent.push(seqno),
        retransmitRound: (round, packets) => events.rounds.push([round, packets]),
      },
    },
    stats,
  );
  sender.begin(1);
  return { link, sender, stats, events, now: () => clock, advance: (micros) => (clock += micros), arrivals };
}

/** A rig whose acks come a poll late, as a real round trip's do: the last packets of a write are in flight when send() returns. */
function lateAckRig(options: RigOptions = {}): Rig {
  let late: number[] = [];
  let due: number[] = [];
  return rig((message) => (late.push(message.seqno), []), {
    ...options,
    beforePoll: (link, poll) => {
      due.forEach((seqno) => link.inject(link.ackFrame({ seqno })));
      [due, late] = [late, []];
      options.beforePoll?.(link, poll);
    },
  });
}

const seqnos = (r: Rig) => r.link.received.map((message) => message.seqno);
const range = (first: number, count: number) => Array.from({ length: count }, (_, index) => first + index);

describe('PipelinedSender over a simulated link', () => {
  test('three batches, no loss: each packet once, in order, the batches acked in order, the window grown by one per ack', () => {
    const r = rig();
    for (let batch = 0; batch < 3; batch++) r.sender.send(batch * BATCH.length, BATCH);
    r.sender.drain();
    assert.deepEqual(seqnos(r), range(1, 3 * PACKETS_PER_BATCH));
    assert.deepEqual(r.link.received[PACKETS_PER_BATCH], { type: 3, seqno: 47, offset: 65536, len: 1448 });
    assert.deepEqual(r.stats, { batches: 3, packets: 138, retransmittedPackets: 0, retransmitRounds: 0, polls: 6, acks: 138 });
    assert.deepEqual(r.events.batches, [
      [3, 0, 1, 46, 65536],
      [3, 65536, 47, 46, 65536],
      [3, 131072, 93, 46, 65536],
    ]);
    assert.deepEqual(r.events.acked, [1, 47, 93]);
    // Every round trip is one 10 µs poll: no queue, so it grew by one per ack, up to its ceiling.
    assert.equal(r.sender.window.size, Math.floor(46 * MAX_WINDOW_BATCHES));
    assert.equal(r.sender.window.size, 80);
    assert.equal(r.sender.next, 139);
    const image = Buffer.concat([BATCH, BATCH, BATCH]);
    assert.deepEqual(r.link.vmcoreImage(), image);
  });

  test('a lost packet goes again at the first poll whose acks overtake it by three, once, and takes one packet off the window', () => {
    const r = rig((message, sighting) => (message.seqno === 10 && sighting === 0 ? [] : [{ seqno: message.seqno }]));
    r.sender.send(0, BATCH);
    r.sender.drain();
    // The first poll comes after TRANSMITS_PER_POLL transmits; its acks (1..32 but 10) overtake 10.
    assert.deepEqual(seqnos(r), [...range(1, TRANSMITS_PER_POLL), 10, ...range(TRANSMITS_PER_POLL + 1, 46 - TRANSMITS_PER_POLL)]);
    assert.deepEqual(r.events.resent, [10]);
    assert.deepEqual(r.events.rounds, [[1, 1]]);
    assert.equal(r.stats.retransmittedPackets, 1);
    assert.equal(r.stats.acks, 46);
    // 31 acks grew it by one each, the loss took one off and ended slow start; the 15 acks after grew it by 1/size each.
    let expected = 46 + 31 - 1;
    for (let ack = 0; ack < 15; ack++) expected += 1 / expected;
    assert.equal(r.sender.window.size, expected);
    assert.deepEqual(r.link.vmcoreImage(), Buffer.from(BATCH));
  });

  test('the last packet lost: nothing overtakes it, so it goes again when its timeout (the floor, 10 ms) runs out', () => {
    const r = rig((message, sighting) => (message.seqno === 46 && sighting === 0 ? [] : [{ seqno: message.seqno }]));
    r.sender.send(0, BATCH);
    const windowBefore = r.sender.window.size;
    r.sender.drain();
    const [first, second] = r.arrivals.get(46)!;
    assert.equal(r.arrivals.get(46)!.length, 2);
    // Round trips of one 10 µs poll put the timeout at its floor; it is checked at each 10 µs poll.
    assert.ok(second! - first! >= MIN_RTO_US && second! - first! < MIN_RTO_US + 2 * POLL_STEP_US, `${second! - first!} µs`);
    assert.deepEqual(r.events.resent, [46]);
    assert.deepEqual(r.events.rounds, [[1, 1]]);
    // Halved by the timeout, which also ends slow start: the late ack adds 1/size.
    assert.equal(r.sender.window.size, windowBefore / 2 + 1 / (windowBefore / 2));
  });

  test('an ack that comes a poll late, behind acks of fewer than three later packets, is reordering, not loss', () => {
    // Seq 31's ack misses the first poll, which brings 32's: one later packet, under the threshold of three.
    const r = rig((message, sighting) => (message.seqno === 31 && sighting === 0 ? [] : [{ seqno: message.seqno }]), {
      beforePoll: (link, poll) => poll === 2 && link.inject(link.ackFrame({ seqno: 31 })),
    });
    r.sender.send(0, BATCH);
    r.sender.drain();
    assert.equal(REORDER_THRESHOLD, 3);
    assert.deepEqual(r.events.resent, []);
    assert.equal(r.stats.acks, 46);
  });

  test("Karn's rule: the ack of a resent packet overtakes nothing, so a server's stall makes no spurious resends", () => {
    // Seq 1 is lost; the server stalls on every other packet from seq 20 on, and acks them all at the third poll.
    const held: number[] = [];
    const r = rig(
      (message, sighting) => {
        if (message.seqno === 1 && sighting === 0) return [];
        if (message.seqno >= 20 && sighting === 0) return (held.push(message.seqno), []);
        return [{ seqno: message.seqno }];
      },
      { beforePoll: (link, poll) => poll === 3 && held.forEach((seqno) => link.inject(link.ackFrame({ seqno }))) },
    );
    r.sender.send(0, BATCH);
    r.sender.drain();
    // Poll 1 brings acks 2-19: seq 1 is overtaken and resent. Poll 2 brings only the resend's ack: were it taken
    // for the resend's (sent after 20-46), 20-43 would look overtaken and go again.
    assert.deepEqual(r.events.resent, [1]);
    assert.equal(r.link.received.length, 47);
    assert.equal(r.stats.acks, 46);
  });

  test('a server slower than the sender, with a 30-packet buffer: the first window overflows it, then it holds', () => {
    // The server takes 4 packets a poll (10 µs) from a socket buffer of 30 and drops what arrives when it is full.
    const BUFFER = 30;
    const PER_POLL = 4;
    const queue: number[] = [];
    let dropped = 0;
    const r = rig(
      (message) => {
        if (queue.length >= BUFFER) dropped++;
        else queue.push(message.seqno);
        return [];
      },
      { beforePoll: (link) => queue.splice(0, PER_POLL).forEach((seqno) => link.inject(link.ackFrame({ seqno }))) },
    );
    const batches = 20;
    for (let batch = 0; batch < batches; batch++) r.sender.send(batch * BATCH.length, BATCH);
    r.sender.drain();
    const packets = batches * PACKETS_PER_BATCH;
    assert.equal(r.stats.acks, packets);
    assert.deepEqual(r.link.vmcoreImage(), Buffer.concat(Array<Uint8Array>(batches).fill(BATCH)));
    const { overtakenResends, timeoutResends, largestWindow, lastWindow } = r.sender.report;
    // The first window (46, then slow start's growth) overflows the buffer: 21 packets dropped, each resent once when
    // later acks overtook it, nothing resent that arrived. The window then shrank to what the buffer holds.
    assert.equal(dropped, 21);
    assert.equal(r.stats.retransmittedPackets, dropped);
    assert.equal(overtakenResends, dropped);
    assert.equal(timeoutResends, 0);
    assert.equal(largestWindow, 50);
    assert.ok(lastWindow > BUFFER && lastWindow < BUFFER + 1, String(lastWindow));
    // The server was never idle: one poll per 4 packets it took, the fewest it could take them in.
    assert.equal(r.stats.polls, packets / PER_POLL);
  });

  test('a dumper slower than the give-up time between two writes: nothing was in flight, so the dump goes on', () => {
    // The second batch's acks come a poll late, as a real round trip's do: its first poll finds none.
    let late: number[] = [];
    let due: number[] = [];
    const r = rig((message) => (message.seqno > PACKETS_PER_BATCH ? (late.push(message.seqno), []) : [{ seqno: message.seqno }]), {
      giveUpMicros: 50_000,
      beforePoll: (link) => {
        due.forEach((seqno) => link.inject(link.ackFrame({ seqno })));
        [due, late] = [late, []];
      },
    });
    r.sender.send(0, BATCH);
    r.advance(60_000);
    r.sender.send(BATCH.length, BATCH);
    r.sender.drain();
    assert.equal(r.stats.acks, 2 * PACKETS_PER_BATCH);
    assert.deepEqual(r.events.resent, []);
  });

  test('a dumper away for 60 ms with packets in flight: their acks waited in the ring and date no round trip', () => {
    const away = lateAckRig();
    away.sender.send(0, BATCH);
    away.advance(60_000);
    away.sender.send(BATCH.length, BATCH);
    away.sender.drain();
    const busy = lateAckRig();
    busy.sender.send(0, BATCH);
    busy.sender.send(BATCH.length, BATCH);
    busy.sender.drain();
    assert.deepEqual(away.events.resent, []);
    // Dated round trips are a poll or two (10-20 µs): 60 ms samples would have made it milliseconds and shown a queue.
    assert.equal(away.sender.report.smoothedRttMicros, busy.sender.report.smoothedRttMicros);
    assert.ok(away.sender.report.smoothedRttMicros <= 2 * POLL_STEP_US, String(away.sender.report.smoothedRttMicros));
  });

  for (const when of ['after', 'before'] as const) {
    test(`a poll that stalls 20 ms ${when} it reads the ring (the host took the CPU): nothing resent, and no round trip dated by the stall`, () => {
      const stall = (poll: number) => poll === 2 && stalled.advance(20_000);
      const stalled = lateAckRig(when === 'after' ? { afterPoll: stall } : { beforePoll: (_, poll) => stall(poll) });
      stalled.sender.send(0, BATCH);
      stalled.sender.drain();
      assert.equal(stalled.stats.acks, PACKETS_PER_BATCH);
      assert.deepEqual(stalled.events.resent, []);
      assert.ok(stalled.sender.report.smoothedRttMicros <= 2 * POLL_STEP_US, String(stalled.sender.report.smoothedRttMicros));
    });
  }

  test('the host stops the whole machine for 13 ms: the server is late too, so nothing goes again for it', () => {
    let late: number[] = [];
    let due: number[] = [];
    const frozen = rig((message) => (late.push(message.seqno), []), {
      beforePoll: (link, poll) => {
        if (poll === 2) return frozen.advance(13_000); // the server was stopped too: what it owed is still owed
        due.forEach((seqno) => link.inject(link.ackFrame({ seqno })));
        [due, late] = [late, []];
      },
    });
    frozen.sender.send(0, BATCH);
    frozen.sender.drain();
    assert.equal(frozen.stats.acks, PACKETS_PER_BATCH);
    assert.deepEqual(frozen.events.resent, []);
  });

  test('600 one-packet batches, one lost: the 512 batch slots are reused, and each batch is acked once, when its packet is', () => {
    const PAGE = BATCH.subarray(0, 1024);
    const r = rig((message, sighting) => (message.seqno === 550 && sighting === 0 ? [] : [{ seqno: message.seqno }]));
    for (let batch = 0; batch < 600; batch++) r.sender.send(batch * PAGE.length, PAGE);
    r.sender.drain();
    assert.equal(r.stats.batches, 600);
    assert.deepEqual(r.events.resent, [550]);
    // Batch 550 completes when its resend's ack comes, after the batches sent behind it.
    assert.equal(r.events.acked.length, 600);
    assert.deepEqual(
      [...r.events.acked].sort((a, b) => a - b),
      range(1, 600),
    );
    assert.ok(r.events.acked.indexOf(550) > r.events.acked.indexOf(551), 'batch 550 acked after 551');
    assert.deepEqual(r.link.vmcoreImage(), Buffer.concat(Array<Uint8Array>(600).fill(PAGE)));
  });

  test('a dumper away longer than the give-up time, its last packets lost: time away does not count, so they go again on timeout', () => {
    const r = rig((message, sighting) => (message.seqno >= 40 && sighting === 0 ? [] : [{ seqno: message.seqno }]), {
      giveUpMicros: 50_000,
    });
    r.sender.send(0, BATCH);
    r.advance(60_000);
    r.sender.drain();
    assert.deepEqual(r.events.resent, range(40, 7));
    assert.equal(r.sender.report.timeoutResends, 7);
    assert.equal(r.stats.acks, PACKETS_PER_BATCH);
  });

  test('duplicated acks, and acks of packets never sent, count nothing', () => {
    const r = rig((message) => [{ seqno: message.seqno }, { seqno: message.seqno }, { seqno: message.seqno + 1000 }, { seqno: 0 }]);
    r.sender.send(0, BATCH);
    r.sender.drain();
    assert.equal(r.stats.acks, 46);
    assert.equal(r.stats.retransmittedPackets, 0);
    assert.deepEqual(seqnos(r), range(1, 46));
  });

  test('no ack at all: resent on a backed-off timeout, then ETIMEDOUT once the give-up time passes without an ack', () => {
    const r = rig(() => [], { giveUpMicros: 50_000 });
    let error: NetdumpError | undefined;
    try {
      r.sender.send(0, BATCH);
      r.sender.drain();
    } catch (thrown) {
      error = thrown as NetdumpError;
    }
    assert.equal(error?.code, 'ETIMEDOUT');
    assert.equal(error?.message, 'no ack for 46 packets in flight (the oldest seq 1) for 50 ms');
    // Time is judged as of the poll before (a poll's own stall must not count): the give-up comes a poll after 50 ms.
    assert.ok(r.now() > 50_000 + POLL_STEP_US && r.now() <= 50_000 + 2 * POLL_STEP_US, String(r.now()));
    // Packets 1-32 left at 0 µs, 33-46 at 10 µs; each timeout is seen a poll (10 µs) after it runs out, time being
    // judged as of the poll before. The first (10 ms, before any round trip) resends 32, the most a poll takes, and
    // backs off to 20 ms; 33-46 then expire at 20.01 ms (no second back-off within one timeout); 1-32 again at
    // 30.01 ms, backing off to 40 ms; the give-up comes before anything expires again.
    assert.deepEqual(r.events.rounds, [
      [1, 32],
      [2, 14],
      [3, 32],
    ]);
    assert.deepEqual(r.arrivals.get(1), [0, 10_010, 30_020]);
    assert.deepEqual(r.arrivals.get(46), [10, 20_020]);
    assert.equal(r.sender.window.size, 46 / 4, 'halved at each of the two back-offs');
  });
});

describe('WindowControl', () => {
  test('slow start: one packet more per ack while the round trip shows no queue, up to 1.75 batches', () => {
    const window = new WindowControl(46);
    for (let seq = 1; seq <= 20; seq++) window.acked(seq, 47, 100);
    assert.equal(window.size, 66);
    for (let seq = 21; seq <= 100; seq++) window.acked(seq, 101, 100);
    assert.equal(window.size, 80);
  });

  test('the ceiling: 1.75 batches, and never over 80 packets (at MTU 1076 a batch is 64 packets)', () => {
    for (const [batchPackets, ceiling] of [
      [16, 28],
      [46, 80],
      [64, MAX_WINDOW_PACKETS],
    ] as const) {
      const window = new WindowControl(batchPackets);
      for (let seq = 1; seq <= 200; seq++) window.acked(seq, 201, 100);
      assert.equal(window.size, ceiling, `${batchPackets} packets a batch`);
    }
  });

  test('slow start ends at the first round trip that shows half a batch queued', () => {
    const window = new WindowControl(20);
    window.acked(1, 21, 100); // the first round ends at once: base round trip 100 µs
    assert.equal(window.size, 21);
    window.acked(2, 21, 400); // 21 × (1 − 100/400) = 15.75 queued, over 10: one ack grows it by 1/size now
    assert.equal(window.size, 21 + 1 / 21);
  });

  test('at each round end: over a batch queued it loses a packet and holds, over half a batch it holds, under half it grows', () => {
    const window = new WindowControl(40);
    window.acked(1, 41, 100);
    for (let seq = 2; seq <= 30; seq++) window.acked(seq, 41, 100);
    assert.equal(window.size, 70, 'slow start up to the ceiling, 1.75 × 40');
    window.acked(41, 100, 400); // ends slow start; the round that ends here saw 100 µs: no queue, and the ceiling holds it
    assert.equal(window.size, 70);
    for (let seq = 42; seq <= 100; seq++) window.acked(seq, 200, 400);
    // That round saw 400 µs: 70 × 3/4 = 52.5 queued, over 40: one packet off, and no growth in the next round.
    assert.equal(window.size, 69);
    for (let seq = 101; seq <= 200; seq++) window.acked(seq, 300, 125);
    // 69 × 1/5 = 13.8 queued, under 20: the ack that ended the round grows it by 1/size.
    assert.equal(window.size, 69 + 1 / 69);
    // The next ack ends that round (seq 300) with 150 µs: (69 + 1/69) × 1/3 ≈ 23 queued, between 20 and 40: it holds.
    window.acked(300, 301, 150);
    assert.equal(window.size, 69 + 1 / 69);
    window.acked(301, 302, 150);
    assert.equal(window.size, 69 + 1 / 69);
  });

  test('a lost packet takes one off, a timeout halves, and neither goes below the floor', () => {
    const window = new WindowControl(10);
    window.lost();
    assert.equal(window.size, 9);
    window.timedOut();
    assert.equal(window.size, 4.5);
    window.timedOut();
    assert.equal(window.size, MIN_WINDOW);
    window.lost();
    assert.equal(window.size, MIN_WINDOW);
  });
});
