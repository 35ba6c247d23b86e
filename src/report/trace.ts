/**
 * A trace (--trace: one JSON line per event of the polling path) read back
 * and turned into what the report draws: every batch from its start to its
 * last ack with the polls it took, each ack's latency from the packet's
 * last transmit, throughput over time, and each retransmit round with the
 * sequence numbers it resent and the offset of the batch they belong to.
 */
import { readFileSync } from 'node:fs';

import { errorCodeOf, NetdumpError } from '../../errors/index.js';

/** netdump's VMCORE message type: the dump's data. */
const VMCORE = 3;

export interface TraceBatch {
  /** Microseconds from the trace's first batch. */
  start: number;
  end: number;
  type: number;
  seq: number;
  packets: number;
  bytes: number;
  offset: number;
  polls: number;
}

export interface RetransmitRound {
  /** Microseconds from the trace's first batch. */
  time: number;
  round: number;
  seqs: number[];
  /** The offset of the batch whose packets were resent. */
  offset: number;
}

export interface TraceAnalysis {
  label: string;
  batches: TraceBatch[];
  /** Microseconds from a packet's last transmit to its ack, in ack order. */
  ackLatencies: number[];
  retransmits: RetransmitRound[];
}

export interface TraceEvent {
  t: number;
  event: string;
  [field: string]: number | string;
}

/** Reads a trace file; a line that is not one of our events is an error naming the file and line. */
export function readTrace(file: string, label: string): TraceAnalysis {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = errorCodeOf((error as NodeJS.ErrnoException).code);
    throw new NetdumpError(code, `cannot read the trace ${file}: ${(error as Error).message}`);
  }
  const events = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, index) => parseEvent(line, file, index + 1));
  return analyzeTrace(events, label, file);
}

function parseEvent(line: string, file: string, lineNumber: number): TraceEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new NetdumpError('EINVAL', `${file}:${lineNumber}: not a JSON line of a netdump trace`);
  }
  const event = value as Partial<TraceEvent> | null;
  if (event === null || typeof event !== 'object' || typeof event.t !== 'number' || typeof event.event !== 'string') {
    throw new NetdumpError('EINVAL', `${file}:${lineNumber}: not an event of a netdump trace (it needs "t" and "event")`);
  }
  return event as TraceEvent;
}

const field = (event: TraceEvent, name: string): number => (typeof event[name] === 'number' ? event[name] : 0);

/** The batches, acks and retransmit rounds of a trace's events, in their order. */
export function analyzeTrace(events: TraceEvent[], label: string, source = label): TraceAnalysis {
  const firstBatch = events.find((event) => event.event === 'batch');
  if (firstBatch === undefined) {
    throw new NetdumpError('EINVAL', `${source}: no batch in this trace (a trace from before batch events, or not a dump's)`);
  }
  const origin = firstBatch.t;
  const analysis: TraceAnalysis = { label, batches: [], ackLatencies: [], retransmits: [] };
  const sentAt = new Map<number, number>();
  let current: TraceBatch | undefined;
  let resent: number[] = [];
  for (const event of events) {
    const time = event.t - origin;
    switch (event.event) {
      case 'batch':
        current = {
          start: time,
          end: time,
          type: field(event, 'type'),
          seq: field(event, 'seq'),
          packets: field(event, 'packets'),
          bytes: field(event, 'bytes'),
          offset: field(event, 'offset'),
          polls: 0,
        };
        sentAt.clear();
        resent = [];
        break;
      case 'transmit':
        if ('seq' in event) sentAt.set(field(event, 'seq'), time);
        break;
      case 'poll':
        if (current !== undefined) current.polls++;
        break;
      case 'ack': {
        const sent = sentAt.get(field(event, 'seq'));
        if (sent !== undefined) analysis.ackLatencies.push(time - sent);
        break;
      }
      case 'resend':
        resent.push(field(event, 'seq'));
        break;
      case 'retransmit':
        analysis.retransmits.push({ time, round: field(event, 'round'), seqs: resent, offset: current?.offset ?? 0 });
        resent = [];
        break;
      case 'batch-acked':
        if (current !== undefined && current.seq === field(event, 'seq')) {
          current.end = time;
          analysis.batches.push(current);
          current = undefined;
        }
        break;
    }
  }
  return analysis;
}

/** The dump's data batches (VMCORE): what the time-per-batch figures are about. */
export const dataBatches = (analysis: TraceAnalysis): TraceBatch[] => analysis.batches.filter((batch) => batch.type === VMCORE);

export function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.floor((sorted.length - 1) * q)]!;
}

export interface TraceSummary {
  label: string;
  seconds: number;
  dataBytes: number;
  megabytesPerSecond: number;
  batches: number;
  batchMicros: { mean: number; p50: number; p99: number; max: number };
  pollsPerBatch: number;
  acks: number;
  ackMicros: { p50: number; p99: number };
  retransmitRounds: number;
  packetsResent: number;
}

export function summarize(analysis: TraceAnalysis): TraceSummary {
  const data = dataBatches(analysis);
  const times = data.map((batch) => batch.end - batch.start).sort((a, b) => a - b);
  const latencies = [...analysis.ackLatencies].sort((a, b) => a - b);
  const last = analysis.batches.at(-1);
  const seconds = last === undefined ? 0 : last.end / 1e6;
  const dataBytes = data.reduce((sum, batch) => sum + batch.bytes, 0);
  const dataSeconds = data.length === 0 ? 0 : (data.at(-1)!.end - data[0]!.start) / 1e6;
  return {
    label: analysis.label,
    seconds,
    dataBytes,
    megabytesPerSecond: dataSeconds > 0 ? dataBytes / 2 ** 20 / dataSeconds : 0,
    batches: data.length,
    batchMicros: {
      mean: times.length === 0 ? 0 : times.reduce((sum, time) => sum + time, 0) / times.length,
      p50: quantile(times, 0.5),
      p99: quantile(times, 0.99),
      max: times.at(-1) ?? 0,
    },
    pollsPerBatch: data.length === 0 ? 0 : data.reduce((sum, batch) => sum + batch.polls, 0) / data.length,
    acks: latencies.length,
    ackMicros: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) },
    retransmitRounds: analysis.retransmits.length,
    packetsResent: analysis.retransmits.reduce((sum, round) => sum + round.seqs.length, 0),
  };
}
