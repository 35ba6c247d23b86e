/**
 * The kernel's 64-bit ack bitmaps (want_acks / rcvd_acks), as two 32-bit
 * halves. The kernel forms each bit with `1 << i` on a 32-bit int; on amd64
 * that masks the shift to 5 bits, so packet i and i+32 share a bit and bit 31
 * sign-extends over bits 31–63 (spec §3.7). The correct window is the
 * default; bug-compatible mode reproduces the aliasing for study.
 */
export const WINDOW_SIZE = 64;

const BIT_31 = 0x80000000;
const ALL = 0xffffffff;

export class AckWindow {
  private wantLow = 0;
  private wantHigh = 0;
  private ackedLow = 0;
  private ackedHigh = 0;

  constructor(private readonly bugCompatible: boolean) {}

  reset(): void {
    this.wantLow = this.wantHigh = this.ackedLow = this.ackedHigh = 0;
  }

  want(index: number): void {
    this.wantLow = (this.wantLow | this.lowBits(index)) >>> 0;
    this.wantHigh = (this.wantHigh | this.highBits(index)) >>> 0;
  }

  ack(index: number): void {
    this.ackedLow = (this.ackedLow | this.lowBits(index)) >>> 0;
    this.ackedHigh = (this.ackedHigh | this.highBits(index)) >>> 0;
  }

  /** The retransmit pass's test: is packet `index`'s bit set in the acked bitmap? */
  isAcked(index: number): boolean {
    return (this.ackedLow & this.lowBits(index)) !== 0 || (this.ackedHigh & this.highBits(index)) !== 0;
  }

  /** The wait loop's test: rcvd_acks == want_acks. */
  complete(): boolean {
    return this.ackedLow === this.wantLow && this.ackedHigh === this.wantHigh;
  }

  /** Packets of the batch whose bit is not acked. */
  missing(count: number): number {
    let missing = 0;
    for (let index = 0; index < count; index++) if (!this.isAcked(index)) missing++;
    return missing;
  }

  /** The first index past the batch's `count` packets whose bit is acked (an ack for a seq never sent), or -1. */
  ackedBeyond(count: number): number {
    for (let index = count; index < WINDOW_SIZE; index++) if (this.isAcked(index)) return index;
    return -1;
  }

  /** Bits 0–31 of packet `index`'s 64-bit mask. */
  private lowBits(index: number): number {
    if (this.bugCompatible) return (index & 31) === 31 ? BIT_31 : (1 << (index & 31)) >>> 0;
    return index < 32 ? (1 << index) >>> 0 : 0;
  }

  /** Bits 32–63 of packet `index`'s 64-bit mask. */
  private highBits(index: number): number {
    if (this.bugCompatible) return (index & 31) === 31 ? ALL : 0;
    return index >= 32 && index < WINDOW_SIZE ? (1 << (index - 32)) >>> 0 : 0;
  }
}
