/**
 * Driver-layer test helpers: test frames of an EtherType nobody else
 * speaks, a collector that waits (event-driven) until a packet socket has
 * seen N of them, the GRO setting as `ethtool -k` shows it, a wrapper that
 * records what a driver transmitted, an in-process dump (runNetdump) with
 * its console captured, a simulated link to a server that acks everything
 * at once (to predict what the fault injector does with a seed), and the
 * reader of a --trace file.
 */
import { readFileSync } from 'node:fs';

import type { DriverInit, InterfaceFacts, NetdumpDriver } from '../../drivers/driver.js';
import { DriverWrapper } from '../../drivers/middleware/wrapper.js';
import { delayMicroseconds, type PacketSocket } from '../../native/index.js';
import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { runNetdump, type DumpContent, type DumpReport } from '../../src/client/netdump.js';
import { PROFILES, type Profile } from '../../src/client/profile.js';
import { buildDumpHeader } from '../../src/dump/kdh.js';
import { openFileDumpSource } from '../../src/dump/file-source.js';
import {
  ARP_OP_REQUEST,
  ETHERNET_ETHERTYPE_OFFSET,
  ETHERNET_HEADER_SIZE,
  ethernetEtherType,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseArp,
  parseIpv4Address,
  readU32BE,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';

/** IEEE 802 local experimental EtherType: nothing else on a test link speaks it. */
export const ETHERTYPE_TEST = 0x88b5;

export const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 60-byte frame of EtherType 0x88b5 carrying `index` as a 32-bit number. */
export function testFrame(dst: Uint8Array, src: Uint8Array, index: number): Buffer {
  const frame = Buffer.alloc(60);
  frame.set(dst, 0);
  frame.set(src, 6);
  frame.writeUInt16BE(ETHERTYPE_TEST, ETHERNET_ETHERTYPE_OFFSET);
  frame.writeUInt32BE(index, ETHERNET_HEADER_SIZE);
  return frame;
}

/** The index a test frame carries, or undefined for any other frame. */
export function testIndexOf(frame: Uint8Array): number | undefined {
  if (frame.length < 18 || ethernetEtherType(frame) !== ETHERTYPE_TEST) return undefined;
  return readU32BE(frame, ETHERNET_HEADER_SIZE);
}

/** Everything waiting on `socket` now, as test-frame indexes (other frames are skipped). */
export function drainTestFrames(socket: PacketSocket): number[] {
  const indexes: number[] = [];
  for (;;) {
    const frames = socket.recvBatch(64);
    if (frames.length === 0) return indexes;
    for (const frame of frames) {
      const index = testIndexOf(frame);
      if (index !== undefined) indexes.push(index);
    }
  }
}

/** Waits until `socket` has received `count` test frames; resolves with their indexes in arrival order. */
export function collectTestFrames(socket: PacketSocket, count: number, timeoutMs: number): Promise<number[]> {
  const indexes: number[] = [];
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.stopWatching();
      if (error) reject(error);
      else resolve(indexes);
    };
    const timer = setTimeout(
      () => finish(new Error(`saw ${indexes.length} of ${count} test frames within ${timeoutMs} ms: ${indexes.join(' ')}`)),
      timeoutMs,
    );
    const drain = () => {
      indexes.push(...drainTestFrames(socket));
      if (indexes.length >= count) finish();
    };
    socket.onReadable(drain);
    drain();
  });
}

/** The interface's GRO setting as `ethtool -k` prints it in the namespace: 'on' or 'off'. */
export function ethtoolGro(hosts: TestHosts, ns: string, iface: string): 'on' | 'off' {
  const match = /^generic-receive-offload: (on|off)\b/m.exec(hosts.run(ns, 'ethtool', ['-k', iface]));
  if (match === null) throw new Error(`ethtool -k ${iface} printed no generic-receive-offload line`);
  return match[1] as 'on' | 'off';
}

export function setGro(hosts: TestHosts, ns: string, iface: string, state: 'on' | 'off'): void {
  hosts.run(ns, 'ethtool', ['-K', iface, 'gro', state]);
}

/** Sets the RX and TX queues in use on a veth made with more (`ethtool -L`). */
export function setQueuesInUse(hosts: TestHosts, ns: string, iface: string, queues: number): void {
  hosts.run(ns, 'ethtool', ['-L', iface, 'rx', String(queues), 'tx', String(queues)]);
}

/** The facts of a running 1500-byte interface with one RX queue, as a driver double reports them. */
export function fakeFacts(name: string, linuxDriver: string, mac: Uint8Array = new Uint8Array(6)): InterfaceFacts {
  return { name, mac, mtu: 1500, up: true, running: true, linuxDriver, rxQueues: 1, maxRxQueues: 1 };
}

/** A netdump message as a transmitted frame carries it. */
export interface SentMessage {
  type: number;
  seq: number;
}

/** Records every frame the driver below took (the frames its next poll sent) and every refused one. */
export class RecordingDriver extends DriverWrapper {
  /** ARP frames (EtherType 0x0806) transmitted, by ARP op. */
  readonly arp = { requests: 0, replies: 0 };
  /** netdump messages transmitted, in order. */
  readonly messages: SentMessage[] = [];
  /** Transmits the driver below refused (threw). */
  refused = 0;

  override transmit(frame: Uint8Array): void {
    try {
      this.inner.transmit(frame);
    } catch (error) {
      this.refused++;
      throw error;
    }
    const etherType = ethernetEtherType(frame);
    if (etherType === ETHERTYPE_ARP) {
      if (parseArp(frame.subarray(ETHERNET_HEADER_SIZE)).op === ARP_OP_REQUEST) this.arp.requests++;
      else this.arp.replies++;
    } else if (etherType === ETHERTYPE_IPV4 && frame.length >= UDP_PAYLOAD_OFFSET + 24) {
      this.messages.push({ type: readU32BE(frame, UDP_PAYLOAD_OFFSET), seq: readU32BE(frame, UDP_PAYLOAD_OFFSET + 4) });
    }
  }
}

/** A driver whose init() reports what the test wants, over any driver. */
export class InitOverride extends DriverWrapper {
  constructor(
    inner: NetdumpDriver,
    private readonly reported: DriverInit,
  ) {
    super(inner);
  }

  override init(): DriverInit {
    return { ...this.reported };
  }
}

export interface InProcessDump {
  /** The report of a complete dump, or the error it threw. */
  report?: DumpReport;
  error?: unknown;
  /** Everything the kernel printed. */
  console: string;
}

export interface InProcessDumpOptions {
  driver: NetdumpDriver;
  hosts: TestHosts;
  dumpFile: string;
  profile?: Profile['name'];
  polls?: number;
  retries?: number;
  /** The client MAC; default: the driver's facts. */
  mac?: Uint8Array;
  /** --ack-bug-compat: the kernel's aliased ack bitmap. */
  ackBugCompat?: boolean;
}

/** The dump's content for a file: its bytes, and a KDH of fixed fields. */
export function fileContent(dumpFile: string, kernel: Profile['kernel'] = 'freebsd13'): DumpContent {
  const source = openFileDumpSource(dumpFile);
  const kdh = buildDumpHeader({
    dumpLength: source.length,
    hostname: 'drivers',
    panicString: 'driver test',
    dumpTime: 1_700_000_000,
    profile: kernel,
  });
  return { source, kdh };
}

/** runNetdump in this process (it busy-waits: the server must be another process), with the console captured. */
export function dumpInProcess(options: InProcessDumpOptions): InProcessDump {
  const profile = PROFILES[options.profile ?? 'freebsd13'];
  const serverIp = parseIpv4Address(options.hosts.server.ip);
  let printed = '';
  const facts = options.driver.facts();
  try {
    const report = runNetdump(
      options.driver,
      {
        clientIp: parseIpv4Address(options.hosts.client.ip),
        serverIp,
        // As the CLI does without -g: 12.x takes the server as the gateway, 13+ has none.
        gatewayIp: profile.serverIsDefaultGateway ? serverIp : 0,
        mac: options.mac ?? facts.mac,
        mtu: facts.mtu,
      },
      {
        profile,
        polls: options.polls ?? 2000,
        retries: options.retries ?? 10,
        arpRetries: 3,
        ackBugCompat: options.ackBugCompat ?? false,
        allowPayloadOver4096: false,
        debug: false,
        print: (text) => {
          printed += text;
        },
        delay: delayMicroseconds,
        gatewayGiven: false,
      },
      fileContent(options.dumpFile, profile.kernel),
    );
    return { report, console: printed };
  } catch (error) {
    return { error, console: printed };
  }
}

/** One line of a --trace file. */
export interface TraceLine {
  t: number;
  event: 'batch' | 'batch-acked' | 'transmit' | 'poll' | 'tick' | 'ack' | 'resend' | 'retransmit';
  bytes?: number;
  type?: number;
  seq?: number;
  ethertype?: number;
  frames?: number;
  us?: number;
  round?: number;
  packets?: number;
}

export function readTrace(file: string): TraceLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as TraceLine);
}
