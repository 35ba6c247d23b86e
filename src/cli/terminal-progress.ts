/**
 * The data stage on a terminal: one live line (cli-progress) in place of
 * the kernel's "..N%" marks, with bytes sent, MB/s, the time left and the
 * packets resent. The send loop is synchronous and keeps the event loop
 * busy, so the bar is drawn from update(), at most ten times a second,
 * never from a timer. Console lines that come while it shows go above it.
 */
import { performance } from 'node:perf_hooks';

import { SingleBar } from 'cli-progress';

import type { LiveProgress } from '../client/progress.js';

const REDRAW_EVERY_MS = 100;
const MIB = 2 ** 20;
const CLEAR_LINE = '\r\u001b[K';
/** DEC save cursor: cli-progress goes back to the saved place when it stops, so it must follow the bar down. */
const SAVE_CURSOR = '\u001b7';

export class TerminalProgress implements LiveProgress {
  private bar: SingleBar | undefined;
  private total = 0;
  private startedAt = 0;
  private drawnAt = -Infinity;
  /** The bar ended its line when it stopped, which the kernel's console ends itself. */
  private lineEnded = false;

  /** `onLine` is told whether the bar's line is open (not ended by a newline), for an interruption's message. */
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly onLine: (open: boolean) => void,
  ) {}

  /** Whether the bar is on screen now. */
  get showing(): boolean {
    return this.bar !== undefined;
  }

  start(opening: string, totalBytes: number): void {
    this.total = totalBytes;
    this.startedAt = performance.now();
    this.bar = new SingleBar({
      stream: this.stream,
      format: `${opening} [{bar}] {percentage}% | {done} of {size} MB | {speed} MB/s | {eta_formatted} left | resent {resent}`,
      barsize: 24,
      hideCursor: false,
      gracefulExit: false,
      linewrap: false,
      forceRedraw: true,
      etaBuffer: 200,
      fps: 2000 / REDRAW_EVERY_MS, // cli-progress draws from update() once two frames have passed
    });
    this.bar.start(totalBytes, 0, this.fields(0, 0, this.startedAt));
    this.onLine(true);
  }

  update(doneBytes: number, resentPackets: number): void {
    const now = performance.now();
    if (this.bar === undefined || (now - this.drawnAt < REDRAW_EVERY_MS && doneBytes < this.total)) return;
    this.drawnAt = now;
    this.bar.update(doneBytes, this.fields(doneBytes, resentPackets, now));
  }

  stop(): void {
    if (this.bar === undefined) return;
    this.bar.stop(); // ends the line
    this.bar = undefined;
    this.lineEnded = true;
    this.onLine(false);
  }

  /** Console text after the bar: without the newline that would end the kernel's percent line, which the bar ended. */
  afterBar(text: string): string {
    if (!this.lineEnded || text === '') return text;
    this.lineEnded = false;
    return text.startsWith('\n') ? text.slice(1) : text;
  }

  /** Writes console text on its own line above the bar; the bar comes back at the next update, one line lower. */
  printAbove(text: string): void {
    this.stream.write(`${CLEAR_LINE}${text}${text.endsWith('\n') ? '' : '\n'}${SAVE_CURSOR}`);
    this.drawnAt = -Infinity;
  }

  private fields(done: number, resent: number, now: number): Record<string, string | number> {
    const seconds = (now - this.startedAt) / 1000;
    return {
      done: (done / MIB).toFixed(1),
      size: (this.total / MIB).toFixed(1),
      speed: seconds > 0 ? (done / MIB / seconds).toFixed(1) : '0.0',
      resent,
    };
  }
}
