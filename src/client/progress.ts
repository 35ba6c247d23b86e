/**
 * The kernel's dump progress, as minidumpsys's blk_write reports it (spec
 * §4.3): every 16 MiB written, the share done so far, "..N%", printed only
 * the first time its tenth is reached. The tenths are [0,10], [10,20], …
 * [90,100], both ends included, and a share falls in the first that holds
 * it: so 10 % counts for the first tenth, and a 256 MiB dump prints
 * ..7%..13%..25%..32%..44%..57%..63%..75%..82%..94%. A dump under 16 MiB
 * prints none.
 *
 * blk_write counts each call: a physical page at a time for the dump's
 * data pages and page-table pages, so the dumper's 64 KiB writes are
 * counted here page by page (countWrite), and a mark falls exactly on each
 * 16 MiB.
 */
const REPORT_EVERY = 2 ** 24;
const TENTHS = 10;
const PAGE_SIZE = 4096;

export class KernelProgress {
  private counter = 0;
  private remaining: number;
  private readonly visited = new Array<boolean>(TENTHS).fill(false);

  constructor(
    private readonly total: number,
    private readonly print: (text: string) => void,
  ) {
    this.remaining = total;
  }

  /** The dumper is about to write `bytes` more of the dump (blk_write counts before it writes). */
  written(bytes: number): void {
    this.counter += bytes;
    this.remaining -= bytes;
    if (this.counter < REPORT_EVERY) return;
    this.counter %= REPORT_EVERY;
    this.report();
  }

  /** A dumper write of `bytes`, counted as the kernel's blk_write calls made it: page by page. */
  countWrite(bytes: number): void {
    for (let counted = 0; counted < bytes; counted += PAGE_SIZE) this.written(Math.min(PAGE_SIZE, bytes - counted));
  }

  private report(): void {
    if (this.total === 0 || this.remaining < 0) return;
    const soFar = 100 - Math.floor((this.remaining * 100) / this.total);
    const tenth = this.visited.findIndex((_, index) => soFar >= index * 10 && soFar <= (index + 1) * 10);
    if (tenth < 0 || this.visited[tenth]) return;
    this.visited[tenth] = true;
    this.print(`..${soFar}%`);
  }
}

/**
 * A live view of the data stage, in place of the kernel's marks: the CLI's
 * progress bar on a terminal. Told the line's opening words and the dump's
 * size, then the bytes counted and the packets resent so far after each
 * dumper write.
 */
export interface LiveProgress {
  start(opening: string, totalBytes: number): void;
  update(doneBytes: number, resentPackets: number): void;
  stop(): void;
}
