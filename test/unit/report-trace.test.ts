/**
 * The report's reading of a trace: batches from their start to their last
 * ack with the polls between, ack latency from a packet's last transmit,
 * retransmit rounds with the sequence numbers they resent and their batch's
 * offset, the summary's figures; labels; and traces it must refuse.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { traceLabels } from '../../src/report/report.js';
import { readTrace, summarize, type TraceEvent } from '../../src/report/trace.js';
import { analyzeTrace } from '../helpers/trace.js';

/** Two VMCORE batches of two packets; the second loses seq 13's first ack and resends it in round 1. */
const EVENTS: TraceEvent[] = [
  { t: 1000, event: 'transmit', bytes: 42, ethertype: 2054 },
  { t: 2000, event: 'batch', type: 3, seq: 10, packets: 2, bytes: 2896, offset: 0 },
  { t: 2010, event: 'transmit', bytes: 1514, type: 3, seq: 10 },
  { t: 2020, event: 'transmit', bytes: 1514, type: 3, seq: 11 },
  { t: 2030, event: 'poll', frames: 0 },
  { t: 2031, event: 'tick', us: 500 },
  { t: 2539, event: 'poll', frames: 2 },
  { t: 2540, event: 'ack', seq: 10 },
  { t: 2541, event: 'ack', seq: 11 },
  { t: 3040, event: 'tick', us: 500 },
  { t: 3050, event: 'batch-acked', seq: 10 },
  { t: 4000, event: 'batch', type: 3, seq: 12, packets: 2, bytes: 2000, offset: 2896 },
  { t: 4010, event: 'transmit', bytes: 1514, type: 3, seq: 12 },
  { t: 4020, event: 'transmit', bytes: 566, type: 3, seq: 13 },
  { t: 4500, event: 'poll', frames: 1 },
  { t: 4510, event: 'ack', seq: 12 },
  { t: 6000, event: 'transmit', bytes: 566, type: 3, seq: 13 },
  { t: 6001, event: 'resend', seq: 13 },
  { t: 6002, event: 'retransmit', round: 1, packets: 1 },
  { t: 6500, event: 'poll', frames: 1 },
  { t: 6600, event: 'ack', seq: 13 },
  { t: 7000, event: 'batch-acked', seq: 12 },
  { t: 7100, event: 'batch', type: 2, seq: 14, packets: 1, bytes: 0, offset: 0 },
  { t: 7110, event: 'transmit', bytes: 66, type: 2, seq: 14 },
  { t: 7190, event: 'ack', seq: 14 },
  { t: 7200, event: 'batch-acked', seq: 14 },
];

/**
 * The fast profile's window: batch 20 starts before batch 10 is acked, a
 * poll counts for the oldest batch in flight, and batch 20 is acked first.
 */
const PIPELINED: TraceEvent[] = [
  { t: 1000, event: 'batch', type: 3, seq: 10, packets: 2, bytes: 2896, offset: 0 },
  { t: 1010, event: 'transmit', bytes: 1514, type: 3, seq: 10 },
  { t: 1020, event: 'transmit', bytes: 1514, type: 3, seq: 11 },
  { t: 1100, event: 'batch', type: 3, seq: 12, packets: 1, bytes: 1448, offset: 2896 },
  { t: 1110, event: 'transmit', bytes: 1514, type: 3, seq: 12 },
  { t: 1200, event: 'poll', frames: 2 },
  { t: 1210, event: 'ack', seq: 10 },
  { t: 1220, event: 'ack', seq: 12 },
  { t: 1230, event: 'batch-acked', seq: 12 },
  { t: 1300, event: 'poll', frames: 0 },
  { t: 1400, event: 'transmit', bytes: 1514, type: 3, seq: 11 },
  { t: 1401, event: 'resend', seq: 11 },
  { t: 1402, event: 'retransmit', round: 1, packets: 1 },
  { t: 1500, event: 'poll', frames: 1 },
  { t: 1510, event: 'ack', seq: 11 },
  { t: 1520, event: 'batch-acked', seq: 10 },
];

test('batches in flight together: each closed by its own batch-acked, listed by start; a poll counts for the oldest', () => {
  const analysis = analyzeTrace(PIPELINED, 'fast');
  assert.deepEqual(analysis.batches, [
    { start: 0, end: 520, type: 3, seq: 10, packets: 2, bytes: 2896, offset: 0, polls: 3 },
    { start: 100, end: 230, type: 3, seq: 12, packets: 1, bytes: 1448, offset: 2896, polls: 0 },
  ]);
  assert.deepEqual(analysis.ackLatencies, [200, 110, 110]);
  assert.deepEqual(analysis.retransmits, [{ time: 402, round: 1, seqs: [11], offset: 0 }]);
  assert.equal(analysis.unfinished, undefined);
  const unfinished = analyzeTrace(PIPELINED.slice(0, 9), 'cut');
  assert.deepEqual(unfinished.unfinished, { seq: 10, offset: 0 }, 'the oldest batch still open');
});

test('batches, acks and retransmit rounds, in microseconds from the first batch', () => {
  const analysis = analyzeTrace(EVENTS, 'lossy');
  assert.deepEqual(analysis.batches, [
    { start: 0, end: 1050, type: 3, seq: 10, packets: 2, bytes: 2896, offset: 0, polls: 2 },
    { start: 2000, end: 5000, type: 3, seq: 12, packets: 2, bytes: 2000, offset: 2896, polls: 2 },
    { start: 5100, end: 5200, type: 2, seq: 14, packets: 1, bytes: 0, offset: 0, polls: 0 },
  ]);
  assert.deepEqual(
    analysis.ackLatencies,
    [530, 521, 500, 600],
    "seq 13 from its resend, not its first transmit; FINISHED's ack not counted",
  );
  assert.equal(analysis.unfinished, undefined);
  assert.deepEqual(analysis.retransmits, [{ time: 4002, round: 1, seqs: [13], offset: 2896 }]);
});

test('the summary: data batches only, their times, polls, ack latency, rounds and packets resent', () => {
  assert.deepEqual(summarize(analyzeTrace(EVENTS, 'lossy')), {
    label: 'lossy',
    seconds: 0.0052,
    dataBytes: 4896,
    megabytesPerSecond: 4896 / 2 ** 20 / 0.005,
    batches: 2,
    batchMicros: { mean: 2025, p50: 1050, p99: 1050, max: 3000 },
    pollsPerBatch: 2,
    acks: 4,
    ackMicros: { p50: 521, p99: 530 },
    retransmitRounds: 1,
    packetsResent: 1,
    ending: 'every batch acked',
  });
});

test('a trace that ends inside a batch (a failed or stopped dump) says which batch', () => {
  const analysis = analyzeTrace(EVENTS.slice(0, 16), 'stopped');
  assert.deepEqual(analysis.unfinished, { seq: 12, offset: 2896 });
  assert.equal(analysis.batches.length, 1);
  assert.equal(summarize(analysis).ending, 'unfinished: batch seq 12 (offset 2896) not acked');
});

test('labels: file names without their extension, a repeated one numbered', () => {
  assert.deepEqual(traceLabels(['a/freebsd13.jsonl', 'b/freebsd13.jsonl', 'em.trace', 'vtnet']), [
    'freebsd13',
    'freebsd13 (2)',
    'em',
    'vtnet',
  ]);
});

test('refused: a line that is not JSON, an event without a time, no batch, no file, time going backwards, no newline', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-report-trace-'));
  try {
    const write = (name: string, lines: string[]) => {
      const file = path.join(dir, name);
      writeFileSync(file, lines.join('\n'));
      return file;
    };
    const notJson = write('bad.jsonl', [JSON.stringify(EVENTS[0]), '{"t": 5, "event"']);
    assert.throws(() => readTrace(notJson, 'bad'), { code: 'EINVAL', message: `${notJson}:2: not a JSON line of a netdump trace` });
    const noTime = write('notime.jsonl', ['{"event":"poll","frames":0}']);
    assert.throws(() => readTrace(noTime, 'x'), { message: `${noTime}:1: not an event of a netdump trace (it needs "t" and "event")` });
    const old = write('old.jsonl', ['{"t":1,"event":"poll","frames":0}', '{"t":2,"event":"tick","us":500}']);
    assert.throws(() => readTrace(old, 'x'), {
      message: `${old}: no batch in this trace (a trace from before batch events, or not a dump's)`,
    });
    assert.throws(() => readTrace(path.join(dir, 'missing.jsonl'), 'x'), {
      code: 'ENOENT',
      message: /^cannot read the trace .*missing\.jsonl: ENOENT/,
    });
    const backwards = write('backwards.jsonl', [JSON.stringify(EVENTS[1]), JSON.stringify({ ...EVENTS[2], t: 10 })]);
    assert.throws(() => readTrace(backwards, 'x'), {
      message: `${backwards}:2: the time goes backwards (10 after 2000): not one netdump trace`,
    });
    const noNewline = write('zeros', [Buffer.alloc(200_000).toString()]);
    assert.throws(() => readTrace(noNewline, 'x'), { message: `${noNewline}:1: a line of over 64 KiB: not a netdump trace` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
