/**
 * Packet captures for client tests: tcpdump run in a test host's namespace,
 * and a small reader for the classic pcap file format it writes (a 24-byte
 * global header, then per packet a 16-byte record header and the bytes;
 * little-endian on this machine, with microsecond or nanosecond stamps).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { requireTool } from './tools.js';

export interface PcapRecord {
  /** Capture time in microseconds since the epoch (fractional for nanosecond files). */
  timeUs: number;
  /** Bytes on the wire (the record's original length). */
  originalLength: number;
  /** The captured bytes (the whole frame unless it exceeded the snapshot length). */
  data: Buffer;
}

export interface Pcap {
  linkType: number;
  snapLength: number;
  records: PcapRecord[];
}

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const MAGIC_NANOSECONDS = 0xa1b23c4d;
export const LINKTYPE_ETHERNET = 1;

/**
 * Parses a whole pcap file held in memory. Throws on anything but a
 * well-formed little-endian file; with `partialTail`, a record cut short at
 * the end (a file still being written) is left out instead.
 */
export function parsePcap(file: Buffer, partialTail = false): Pcap {
  if (file.length < 24) throw new Error(`pcap file of ${file.length} bytes has no global header`);
  const magic = file.readUInt32LE(0);
  if (magic !== MAGIC_MICROSECONDS && magic !== MAGIC_NANOSECONDS) {
    throw new Error(`not a little-endian pcap file (magic 0x${magic.toString(16)})`);
  }
  const fractionPerUs = magic === MAGIC_NANOSECONDS ? 1000 : 1;
  const major = file.readUInt16LE(4);
  if (major !== 2) throw new Error(`pcap version ${major}.x is not 2.4`);
  const snapLength = file.readUInt32LE(16);
  const linkType = file.readUInt32LE(20);
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < file.length) {
    if (at + 16 > file.length) {
      if (partialTail) break;
      throw new Error(`pcap record header at ${at} is cut short`);
    }
    const seconds = file.readUInt32LE(at);
    const fraction = file.readUInt32LE(at + 4);
    const capturedLength = file.readUInt32LE(at + 8);
    const originalLength = file.readUInt32LE(at + 12);
    at += 16;
    if (at + capturedLength > file.length) {
      if (partialTail) break;
      throw new Error(`pcap record at ${at - 16} is cut short`);
    }
    records.push({ timeUs: seconds * 1e6 + fraction / fractionPerUs, originalLength, data: file.subarray(at, at + capturedLength) });
    at += capturedLength;
  }
  return { linkType, snapLength, records };
}

export function readPcap(path: string, partialTail = false): Pcap {
  return parsePcap(readFileSync(path), partialTail);
}

/**
 * tcpdump writing every frame of one interface to a file, inside a
 * namespace. --immediate-mode: no frame waits in a half-filled ring block;
 * -U: each frame is written out as it is captured; -s 9100 (a 9000-byte MTU
 * fits) and -B 16 MiB: enough ring slots that a burst of jumbo frames is
 * not dropped.
 */
export class Tcpdump {
  stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly file: string,
  ) {
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  /** Starts tcpdump and resolves once it says it is listening (so nothing sent after is missed). */
  static async start(hosts: TestHosts, ns: string, iface: string, file: string): Promise<Tcpdump> {
    await requireTool('tcpdump', 'tcpdump');
    const child = hosts.spawn(ns, 'tcpdump', ['-i', iface, '-n', '-s', '9100', '-B', '16384', '--immediate-mode', '-U', '-w', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const capture = new Tcpdump(child, file);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start listening: ${capture.stderr}`)), 10_000);
      const check = () => {
        if (capture.stderr.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited (${code}) before listening: ${capture.stderr}`));
      });
      check();
    });
    return capture;
  }

  /**
   * Waits until the capture so far satisfies `done` (e.g. it holds the last
   * frame of a session), so that stopping loses nothing still in flight.
   */
  async waitFor(done: (pcap: Pcap) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(readPcap(this.file, true))) {
      if (Date.now() > deadline) throw new Error(`the capture never held ${what} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops the capture (SIGINT: tcpdump flushes and reports its counts) and reads the file. */
  async stop(): Promise<Pcap> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGINT');
      await exited;
    }
    return readPcap(this.file);
  }

  /** The count tcpdump reports as "N packets dropped by kernel" (after stop()). */
  get droppedByKernel(): number | undefined {
    const match = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    return match === null ? undefined : Number(match[1]);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
