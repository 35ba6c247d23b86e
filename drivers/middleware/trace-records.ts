/**
 * The tracer's events as fixed 40-byte records in a ring (written by the
 * dump's thread), and their JSON lines (formatted by the ring's worker):
 * kind, up to six 32-bit integer fields, and the monotonic microsecond time.
 */
import type { JsonLinesFile } from './json-lines.js';

export const TRACE_RECORD_BYTES = 40;
const WORDS_PER_RECORD = TRACE_RECORD_BYTES / 4;
const TIME_AT_DOUBLE = 4; // the record's last 8 bytes
const TWO_POW_32 = 2 ** 32;

/** A 64-bit offset as the two 32-bit fields a record holds it in (high, low), and back in format(). */
export const offsetHigh = (offset: number): number => Math.floor(offset / TWO_POW_32);
export const offsetLow = (offset: number): number => offset >>> 0;

export const TraceEvent = {
  /** bytes, netdump type, sequence number */
  netdumpTransmit: 1,
  /** bytes, EtherType */
  otherTransmit: 2,
  /** frames returned */
  poll: 3,
  /** microseconds */
  tick: 4,
  /** sequence number */
  ack: 5,
  /** round, packets resent */
  retransmit: 6,
  /** netdump type, sequence number of the first packet, packets, bytes, offset (high and low words) */
  batch: 7,
  /** sequence number of the batch's first packet: its last ack is in */
  batchAcked: 8,
  /** sequence number of a packet sent again */
  resend: 9,
} as const;

/** Views of a ring of trace records, one record per index. */
export class TraceRecords {
  private readonly words: Uint32Array;
  private readonly times: Float64Array;

  /** Records the ring holds. */
  readonly capacity: number;

  constructor(ring: Uint8Array) {
    this.words = new Uint32Array(ring.buffer, ring.byteOffset, ring.length / 4);
    this.times = new Float64Array(ring.buffer, ring.byteOffset, ring.length / 8);
    this.capacity = ring.length / TRACE_RECORD_BYTES;
  }

  /** Stores a record: its kind, time and six 32-bit fields (positional, so that recording allocates nothing). */
  write(index: number, kind: number, micros: number, a: number, b: number, c: number, d: number, e: number, f: number): void {
    const word = index * WORDS_PER_RECORD;
    this.words[word] = kind;
    this.words[word + 1] = a;
    this.words[word + 2] = b;
    this.words[word + 3] = c;
    this.words[word + 4] = d;
    this.words[word + 5] = e;
    this.words[word + 6] = f;
    this.times[index * (WORDS_PER_RECORD / 2) + TIME_AT_DOUBLE] = micros;
  }

  /** Record `index` as one JSON line. */
  format(index: number, out: JsonLinesFile): void {
    const word = index * WORDS_PER_RECORD;
    const a = this.words[word + 1]!;
    const b = this.words[word + 2]!;
    const c = this.words[word + 3]!;
    const d = this.words[word + 4]!;
    out.begin(this.times[index * (WORDS_PER_RECORD / 2) + TIME_AT_DOUBLE]!);
    switch (this.words[word]) {
      case TraceEvent.netdumpTransmit:
        return out.text('event', 'transmit').number('bytes', a).number('type', b).number('seq', c).end();
      case TraceEvent.otherTransmit:
        return out.text('event', 'transmit').number('bytes', a).number('ethertype', b).end();
      case TraceEvent.poll:
        return out.text('event', 'poll').number('frames', a).end();
      case TraceEvent.tick:
        return out.text('event', 'tick').number('us', a).end();
      case TraceEvent.ack:
        return out.text('event', 'ack').number('seq', a).end();
      case TraceEvent.batch: {
        const offset = this.words[word + 5]! * TWO_POW_32 + this.words[word + 6]!;
        return out
          .text('event', 'batch')
          .number('type', a)
          .number('seq', b)
          .number('packets', c)
          .number('bytes', d)
          .number('offset', offset)
          .end();
      }
      case TraceEvent.batchAcked:
        return out.text('event', 'batch-acked').number('seq', a).end();
      case TraceEvent.resend:
        return out.text('event', 'resend').number('seq', a).end();
      default:
        return out.text('event', 'retransmit').number('round', a).number('packets', b).end();
    }
  }
}
