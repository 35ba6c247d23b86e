/**
 * CaptureFile: a pcap file written by a thread of its own
 * (native/capture_file.c); the caller's thread only stamps and copies each
 * frame into a ring buffer.
 */
import { addon, asNetdumpError, call, type NativeCaptureFile } from './addon.js';

export class CaptureFile {
  private constructor(private readonly native: NativeCaptureFile) {}

  /** Creates or truncates the file (mode 0644); ringBytes, a power of two from 128 KiB to 1 GiB, bounds the bytes in flight. */
  static open(path: string, ringBytes: number): CaptureFile {
    return new CaptureFile(call(() => new addon.CaptureFile(path, ringBytes)));
  }

  /** Appends a record of the frame stamped with the wall-clock time now; waits only if the ring is full. Called per frame: no closure. */
  record(frame: Uint8Array): void {
    try {
      this.native.record(frame);
    } catch (error) {
      throw asNetdumpError(error);
    }
  }

  /** Waits until everything is written and closes the file; throws the first write error. */
  close(): void {
    call(() => this.native.close());
  }
}
