/**
 * A trace (--trace: one JSON line per event of the polling path) read back
 * and turned into what the report draws: every batch from its start to its
 * last ack with the polls it took, each ack's latency from the packet's
 * last transmit, throughput over time, and each retransmit round with the
 * sequence numbers it resent and the offset of the batch they belong to.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

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
  /** Microseconds from a data packet's last transmit to its ack, in ack order. */
  ackLatencies: number[];
  retransmits: RetransmitRound[];
  /** The batch the trace ends in without its last ack (a dump that failed or was stopped). */
  unfinished?: { seq: number; offset: number };
}

export interface TraceEvent {
  t: number;
  event: string;
  [field: string]: number | string;
}

const READ_CHUNK = 1 << 20;
/** Far more than any event's line; what has no newline within it is not a trace (/dev/zero, a core). */
const MAX_LINE = 64 * 1024;

/**
 * Reads a trace file a MiB at a time, each line analysed as it comes and
 * then dropped (a 4 GiB dump's trace has millions); a line that is not one
 * of our events is an error naming the file and line.
 */
export function readTrace(file: string, label: string): TraceAnalysis {
  const analyzer = new TraceAnalyzer(label, file);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const chunk = Buffer.alloc(READ_CHUNK);
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let lineNumber = 0;
    const take = (line: string) => {
      lineNumber++;
      if (line !== '') analyzer.add(parseEvent(line, file, lineNumber), lineNumber);
    };
    for (let read; (read = readSync(fd, chunk, 0, READ_CHUNK, null)) > 0;) {
      const lines = (pending + decoder.write(chunk.subarray(0, read))).split('\n');
      pending = lines.pop()!;
      lines.forEach(take);
      if (pending.length > MAX_LINE)
        throw new NetdumpError('EINVAL', `${file}:${lineNumber + 1}: a line of over 64 KiB: not a netdump trace`);
    }
    take(pending + decoder.end());
  } catch (error) {
    if (error instanceof NetdumpError) throw error;
    const code = errorCodeOf((error as NodeJS.ErrnoException).code);
    throw new NetdumpError(code, `cannot read the trace ${file}: ${(error as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return analyzer.finish();
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

/**
 * Takes a trace's events one at a time, in order, keeping only what the
 * report draws. The kernel's loop has one batch open at a time; the fast
 * profile's window keeps several open, each closed by its own batch-acked.
 */
export class TraceAnalyzer {
  private readonly analysis: TraceAnalysis;
  private origin: number | undefined;
  private lastTime = -Infinity;
  /** When each data packet in flight was last transmitted, until its ack. */
  private readonly sentAt = new Map<number, number>();
  /** The batches started and not yet acked, oldest first (Map keeps insertion order). */
  private readonly open = new Map<number, TraceBatch>();
  private resent: number[] = [];

  constructor(
    label: string,
    private readonly source: string,
  ) {
    this.analysis = { label, batches: [], ackLatencies: [], retransmits: [] };
  }

  /** `lineNumber` names the event in an error. */
  add(event: TraceEvent, lineNumber?: number): void {
    if (event.t < this.lastTime) {
      const where = lineNumber === undefined ? this.source : `${this.source}:${lineNumber}`;
      throw new NetdumpError('EINVAL', `${where}: the time goes backwards (${event.t} after ${this.lastTime}): not one netdump trace`);
    }
    this.lastTime = event.t;
    if (this.origin === undefined) {
      if (event.event !== 'batch') return; // ARP and other frames before the first batch
      this.origin = event.t;
    }
    const time = event.t - this.origin;
    switch (event.event) {
      case 'batch': {
        const batch = {
          start: time,
          end: time,
          type: field(event, 'type'),
          seq: field(event, 'seq'),
          packets: field(event, 'packets'),
          bytes: field(event, 'bytes'),
          offset: field(event, 'offset'),
          polls: 0,
        };
        this.open.set(batch.seq, batch);
        return;
      }
      case 'transmit': {
        // Data packets only: the herald's, KDH's and FINISHED's acks wait for the server's file work.
        const seq = field(event, 'seq');
        if ('seq' in event && this.batchOf(seq)?.type === VMCORE) this.sentAt.set(seq, time);
        return;
      }
      case 'poll': {
        // A poll waits for the oldest batch in flight.
        const oldest = this.oldestOpen();
        if (oldest !== undefined) oldest.polls++;
        return;
      }
      case 'ack': {
        const seq = field(event, 'seq');
        const sent = this.sentAt.get(seq);
        if (sent !== undefined) this.analysis.ackLatencies.push(time - sent);
        this.sentAt.delete(seq);
        return;
      }
      case 'resend':
        this.resent.push(field(event, 'seq'));
        return;
      case 'retransmit': {
        const offset = this.batchOf(this.resent[0] ?? -1)?.offset ?? this.oldestOpen()?.offset ?? 0;
        this.analysis.retransmits.push({ time, round: field(event, 'round'), seqs: this.resent, offset });
        this.resent = [];
        return;
      }
      case 'batch-acked': {
        const batch = this.open.get(field(event, 'seq'));
        if (batch === undefined) return;
        batch.end = time;
        this.analysis.batches.push(batch);
        this.open.delete(batch.seq);
        return;
      }
    }
  }

  finish(): TraceAnalysis {
    if (this.origin === undefined) {
      throw new NetdumpError('EINVAL', `${this.source}: no batch in this trace (a trace from before batch events, or not a dump's)`);
    }
    // The window acks batches out of order now and then: the report reads them in the order they started.
    this.analysis.batches.sort((a, b) => a.start - b.start);
    const unfinished = this.oldestOpen();
    if (unfinished !== undefined) this.analysis.unfinished = { seq: unfinished.seq, offset: unfinished.offset };
    return this.analysis;
  }

  private oldestOpen(): TraceBatch | undefined {
    for (const batch of this.open.values()) return batch;
    return undefined;
  }

  /** The open batch that packet `seq` belongs to (sequence numbers are 32-bit and may wrap). */
  private batchOf(seq: number): TraceBatch | undefined {
    for (const batch of this.open.values()) {
      if ((seq - batch.seq) >>> 0 < Math.max(1, batch.packets)) return batch;
    }
    return undefined;
  }
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
  /** How the trace ends: every batch acked, or which one was not. */
  ending: string;
}

export function summarize(analysis: TraceAnalysis): TraceSummary {
  const data = dataBatches(analysis);
  const times = data.map((batch) => batch.end - batch.start).sort((a, b) => a - b);
  const latencies = [...analysis.ackLatencies].sort((a, b) => a - b);
  const last = analysis.batches.at(-1);
  const seconds = last === undefined ? 0 : last.end / 1e6;
  const dataBytes = data.reduce((sum, batch) => sum + batch.bytes, 0);
  // The window acks batches out of order now and then: the data ends at the latest end, not the last start's.
  const dataEnd = data.reduce((latest, batch) => Math.max(latest, batch.end), 0);
  const dataSeconds = data.length === 0 ? 0 : (dataEnd - data[0]!.start) / 1e6;
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
    ending:
      analysis.unfinished === undefined
        ? 'every batch acked'
        : `unfinished: batch seq ${analysis.unfinished.seq} (offset ${analysis.unfinished.offset}) not acked`,
  };
}
