/**
 * Middleware: every frame in and out of the driver, into a pcap file. The
 * addon's CaptureFile stamps each record and writes it from a thread of
 * its own, so the driver's thread only copies the frame.
 */
import { CaptureFile } from '../../native/index.js';
import { NetdumpError } from '../../errors/index.js';
import type { FrameInput, NetdumpDriver } from '../driver.js';
import { DriverWrapper } from './wrapper.js';

/** About 10 ms of 1514-byte frames at the addon's fastest send rate; the writer drains it each millisecond. */
const RING_BYTES = 8 << 20;

export class PcapWritingDriver extends DriverWrapper {
  private readonly file: CaptureFile;
  private recorded = 0;
  /** The poll caller's input, and a tap that records before passing on (made once). */
  private input: FrameInput = () => undefined;
  private readonly tap: FrameInput = (frame, flags) => {
    this.record(frame);
    this.input(frame, flags);
  };

  constructor(
    inner: NetdumpDriver,
    readonly path: string,
  ) {
    super(inner);
    this.file = naming(path, () => CaptureFile.open(path, RING_BYTES));
  }

  /** Frames recorded so far, in and out. */
  get frames(): number {
    return this.recorded;
  }

  override transmit(frame: Uint8Array): void {
    this.inner.transmit(frame);
    this.record(frame);
  }

  override poll(count: number, input: FrameInput): number {
    this.input = input;
    return this.inner.poll(count, this.tap);
  }

  override close(): void {
    try {
      naming(this.path, () => this.file.close());
    } finally {
      this.inner.close();
    }
  }

  private record(frame: Uint8Array): void {
    this.file.record(frame);
    this.recorded++;
  }
}

/** Runs `act`, naming the capture in the error it throws. */
function naming<T>(path: string, act: () => T): T {
  try {
    return act();
  } catch (error) {
    if (!(error instanceof NetdumpError)) throw error;
    throw new NetdumpError(error.code, `cannot write the capture ${path}: ${error.message}`);
  }
}
