/** Middleware: every frame in and out of the driver, into a pcap file. */
import type { FrameInput, NetdumpDriver } from '../driver.js';
import { PcapFile } from './pcap-file.js';
import { DriverWrapper } from './wrapper.js';

/** Wall-clock microseconds from a monotonic source, so records never go back in time. */
function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export class PcapWritingDriver extends DriverWrapper {
  private readonly file: PcapFile;
  /** The poll caller's input, and a tap that records before passing on (made once). */
  private input: FrameInput = () => undefined;
  private readonly tap: FrameInput = (frame, flags) => {
    this.file.write(frame, nowMicros());
    this.input(frame, flags);
  };

  constructor(inner: NetdumpDriver, path: string) {
    super(inner);
    this.file = new PcapFile(path);
  }

  /** Frames recorded so far, in and out. */
  get frames(): number {
    return this.file.records;
  }

  override transmit(frame: Uint8Array): void {
    this.inner.transmit(frame);
    this.file.write(frame, nowMicros());
  }

  override poll(count: number, input: FrameInput): number {
    this.input = input;
    return this.inner.poll(count, this.tap);
  }

  override close(): void {
    this.file.close();
    this.inner.close();
  }
}
