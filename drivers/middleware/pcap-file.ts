/**
 * A classic pcap file writer (LINKTYPE_ETHERNET, microsecond timestamps),
 * readable by tcpdump and Wireshark. Records are gathered in a buffer
 * allocated once and written when it fills and on close.
 */
import { BufferedFile } from './buffered-file.js';

const MAGIC = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 65535;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const BUFFER_SIZE = 1 << 20;

export class PcapFile extends BufferedFile {
  private readonly view = new DataView(this.buffer.buffer, this.buffer.byteOffset, BUFFER_SIZE);
  /** Records written so far. */
  records = 0;

  constructor(path: string) {
    super(path, BUFFER_SIZE, `the capture ${path}`);
    const header = this.buffer;
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8);
    header.writeUInt32LE(0, 12);
    header.writeUInt32LE(SNAPLEN, 16);
    header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.used = GLOBAL_HEADER;
  }

  /** Appends one frame stamped with wall-clock time in microseconds. */
  write(frame: Uint8Array, timestampMicros: number): void {
    if (this.used + RECORD_HEADER + frame.length > BUFFER_SIZE) this.flush();
    const at = this.used;
    const seconds = Math.floor(timestampMicros / 1e6);
    this.view.setUint32(at, seconds, true);
    this.view.setUint32(at + 4, Math.floor(timestampMicros - seconds * 1e6), true);
    this.view.setUint32(at + 8, frame.length, true);
    this.view.setUint32(at + 12, frame.length, true);
    this.buffer.set(frame, at + RECORD_HEADER);
    this.used += RECORD_HEADER + frame.length;
    this.records++;
  }
}
