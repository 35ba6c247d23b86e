/**
 * A netdump client for server tests: speaks the protocol through a kernel
 * UDP socket bound to <client-ip>:20024 in the client namespace (a UdpPeer),
 * with full control over every header field, and checks every ack it gets:
 * exactly 4 bytes, from the server's address, carrying the expected seq.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import {
  emitKerneldumpHeader,
  KERNELDUMPHEADER_SIZE,
  type KerneldumpHeaderRepr,
  KERNELDUMPMAGIC,
  KERNELDUMPVERSION,
  NETDUMP_ACK_SIZE,
  NETDUMP_ACKPORT,
  NETDUMP_EKCD_KEY,
  NETDUMP_FINISHED,
  NETDUMP_HEADER_SIZE,
  NETDUMP_HERALD,
  NETDUMP_KDH,
  NETDUMP_PORT,
  NETDUMP_VMCORE,
  netdumpAckSeqno,
  setNetdumpAux2,
  setNetdumpLen,
  setNetdumpOffset64,
  setNetdumpSeqno,
  setNetdumpType,
} from '../../src/wire/index.js';
import { seededRandom } from '../../src/dump/minidump.js';
import { UdpPeer } from './udp-peer.js';

export interface Ack {
  seq: number;
  /** The server port the ack came from. */
  port: number;
}

export interface RawMessage {
  type: number;
  seq: number;
  /** A bigint for offsets past 2^53. */
  offset?: number | bigint;
  payload?: Uint8Array;
  /** The header's length field; payload.length unless given. */
  len?: number;
  aux2?: number;
}

/** Header + payload, with any length field (a wrong one makes a malformed datagram). */
export function encodeMessage(message: RawMessage): Buffer {
  const payload = message.payload ?? new Uint8Array(0);
  const datagram = Buffer.alloc(NETDUMP_HEADER_SIZE + payload.length);
  setNetdumpType(datagram, 0, message.type >>> 0);
  setNetdumpSeqno(datagram, 0, message.seq >>> 0);
  setNetdumpOffset64(datagram, 0, BigInt(message.offset ?? 0));
  setNetdumpLen(datagram, 0, (message.len ?? payload.length) >>> 0);
  setNetdumpAux2(datagram, 0, (message.aux2 ?? 0) >>> 0);
  datagram.set(payload, NETDUMP_HEADER_SIZE);
  return datagram;
}

/** A HERALD's payload for a path: the bytes and a NUL. */
export function heraldPath(path: string): Buffer {
  return Buffer.concat([Buffer.from(path, 'latin1'), Buffer.alloc(1)]);
}

/** Adds an address to the client interface (the namespace kernel owns it). */
export function addClientAddress(hosts: TestHosts, ip: string): void {
  execFileSync('ip', ['-n', hosts.client.ns, 'addr', 'add', `${ip}/${hosts.client.prefixLength}`, 'dev', hosts.client.iface]);
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

export const DEFAULT_KDH: KerneldumpHeaderRepr = {
  magic: KERNELDUMPMAGIC,
  architecture: 'amd64',
  version: KERNELDUMPVERSION,
  architectureVersion: 2,
  dumpLength: 0,
  dumpTime: 1709500000, // Sun Mar  3 21:06:40 2024 UTC
  dumpKeySize: 0,
  blockSize: 4096,
  hostname: 'crashbox.example.org',
  versionString: 'FreeBSD 14.0-RELEASE releng/14.0-n265380-f9716eee8ab4 GENERIC\n',
  panicString: 'page fault while in kernel mode',
  compression: 0,
  dumpExtent: 0,
};

/** A 512-byte kernel dump header (src/wire's emitter), DEFAULT_KDH with overrides. */
export function buildKdh(fields: Partial<KerneldumpHeaderRepr> = {}): Buffer {
  const kdh = Buffer.alloc(KERNELDUMPHEADER_SIZE);
  emitKerneldumpHeader({ ...DEFAULT_KDH, ...fields }, kdh);
  return kdh;
}

export interface VmcoreOptions {
  /** Seq of the first VMCORE packet. */
  firstSeq: number;
  /** Payload bytes per packet (MTU 1500: 1448). */
  packetSize?: number;
  /** Packets sent back to back before waiting for their acks (at most 64, as the kernel). */
  batchSize?: number;
  /** Shuffle all packets with this seed before batching. */
  shuffleSeed?: number;
  /** After every n-th packet, send one packet a second time (a random one if shuffled, else that one). */
  duplicateEvery?: number;
  /** Message type (VMCORE, or EKCD_KEY for a key blob). */
  type?: number;
  /** Offset of data[0] in the file. */
  baseOffset?: number;
}

export class NetdumpTestClient {
  /** The port of the server's socket for this client's session, learned from the herald's ack. */
  sessionPort: number | undefined;
  /** Every ack received so far, in order. */
  readonly acks: Ack[] = [];

  private constructor(
    private readonly peer: UdpPeer,
    readonly ip: string,
    readonly serverIp: string,
    readonly heraldPort: number,
  ) {}

  /** A client socket on ip:20024 in the client namespace (the address must exist there). */
  static async start(hosts: TestHosts, ip = hosts.client.ip, options: { serverIp?: string; heraldPort?: number; port?: number } = {}) {
    const peer = await UdpPeer.start(hosts, hosts.client.ns, `${ip}:${options.port ?? NETDUMP_ACKPORT}`);
    return new NetdumpTestClient(peer, ip, options.serverIp ?? hosts.server.ip, options.heraldPort ?? NETDUMP_PORT);
  }

  stop(): void {
    this.peer.stop();
  }

  /** Sends raw bytes to a server port (default: the session's). */
  sendRaw(datagram: Uint8Array, port = this.requirePort()): void {
    this.peer.send(this.serverIp, port, datagram);
  }

  send(message: RawMessage, port = this.requirePort()): void {
    this.sendRaw(encodeMessage(message), port);
  }

  /** The next ack, checked to be 4 bytes from the server; undefined after timeoutMs of silence. */
  async nextAck(timeoutMs = 5000): Promise<Ack | undefined> {
    const message = await this.peer.nextMessage(timeoutMs);
    if (message === undefined) return undefined;
    assert.equal(message.address, this.serverIp, `ack from ${message.address}, not the server`);
    const data = Buffer.from(message.data!, 'hex');
    assert.equal(data.length, NETDUMP_ACK_SIZE, `an ack is exactly ${NETDUMP_ACK_SIZE} bytes, got ${message.data}`);
    const ack = { seq: netdumpAckSeqno(data), port: message.port! };
    this.acks.push(ack);
    return ack;
  }

  /** Waits for an ack of `seq` (must be the next datagram), from the session port unless `port` says otherwise (null: any). */
  async expectAck(seq: number, port: number | null = this.sessionPort ?? null, timeoutMs = 5000): Promise<Ack> {
    const ack = await this.nextAck(timeoutMs);
    assert.ok(ack !== undefined, `no ack for seq ${seq} within ${timeoutMs} ms`);
    assert.equal(ack.seq, seq, `expected the ack of seq ${seq}`);
    if (port !== null) assert.equal(ack.port, port, `ack of seq ${seq} from port ${ack.port}, expected ${port}`);
    return ack;
  }

  /** Asserts that nothing arrives within `ms`. */
  async expectNoAck(ms = 300, what = 'datagram'): Promise<void> {
    const message = await this.peer.nextMessage(ms);
    assert.equal(message, undefined, `the server answered a ${what}: ${JSON.stringify(message)}`);
  }

  /** Collects acks until `count` arrived; fails on silence. Returns them in arrival order. */
  async collectAcks(count: number, timeoutMs = 5000): Promise<Ack[]> {
    const acks: Ack[] = [];
    while (acks.length < count) {
      const ack = await this.nextAck(timeoutMs);
      assert.ok(ack !== undefined, `got ${acks.length} of ${count} acks: ${acks.map((a) => a.seq).join(',')}`);
      acks.push(ack);
    }
    return acks;
  }

  /**
   * Sends a HERALD to the herald port and returns the port its ack came
   * from (which becomes the session port). `payload` is the raw path bytes
   * (use heraldPath() for a NUL-terminated path); none means no path.
   */
  async herald(seq = 1, payload: Uint8Array = new Uint8Array(0)): Promise<number> {
    this.send({ type: NETDUMP_HERALD, seq, payload }, this.heraldPort);
    const ack = await this.expectAck(seq, null);
    assert.notEqual(ack.port, this.heraldPort, 'the herald is acked from a fresh port, not the herald port');
    this.sessionPort = ack.port;
    return ack.port;
  }

  /**
   * Sends `data` as packets of packetSize at their offsets, in batches,
   * and checks that each batch gets exactly one 4-byte ack per datagram
   * sent, carrying that datagram's seq. Returns the seq after the last packet.
   */
  async sendData(data: Uint8Array, options: VmcoreOptions): Promise<number> {
    const packetSize = options.packetSize ?? 1448;
    const batchSize = options.batchSize ?? 32;
    const base = options.baseOffset ?? 0;
    const packets: RawMessage[] = [];
    let seq = options.firstSeq;
    for (let offset = 0; offset < data.length; offset += packetSize, seq++) {
      packets.push({
        type: options.type ?? NETDUMP_VMCORE,
        seq,
        offset: base + offset,
        payload: data.subarray(offset, offset + packetSize),
      });
    }
    let order = packets;
    if (options.shuffleSeed !== undefined) {
      const random = seededRandom(options.shuffleSeed);
      order = shuffle(packets, random);
      if (options.duplicateEvery !== undefined) {
        const every = options.duplicateEvery;
        order = order.flatMap((packet, i) => (i % every === 0 ? [packet, order[Math.floor(random() * order.length)]!] : [packet]));
      }
    } else if (options.duplicateEvery !== undefined) {
      const every = options.duplicateEvery;
      order = order.flatMap((packet, i) => (i % every === 0 ? [packet, packet] : [packet]));
    }
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      for (const packet of batch) this.send(packet);
      const acks = await this.collectAcks(batch.length);
      assert.ok(
        acks.every((ack) => ack.port === this.sessionPort),
        'every ack comes from the session port',
      );
      const sorted = (seqs: number[]) => [...seqs].sort((a, b) => a - b);
      assert.deepEqual(sorted(acks.map((ack) => ack.seq)), sorted(batch.map((packet) => packet.seq)));
    }
    return seq;
  }

  async sendKdh(kdh: Uint8Array, seq: number): Promise<void> {
    this.send({ type: NETDUMP_KDH, seq, payload: kdh });
    await this.expectAck(seq);
  }

  async sendKey(key: Uint8Array, firstSeq: number, options: Partial<VmcoreOptions> = {}): Promise<number> {
    return this.sendData(key, { ...options, firstSeq, type: NETDUMP_EKCD_KEY });
  }

  async finish(seq: number): Promise<void> {
    this.send({ type: NETDUMP_FINISHED, seq });
    await this.expectAck(seq);
  }

  /** A whole dump: HERALD (seq 1), VMCORE, optional key after the KDH (12.x order), KDH, FINISHED. */
  async dump(
    vmcore: Uint8Array,
    kdh: Uint8Array,
    options: { path?: Uint8Array; key?: Uint8Array; vmcore?: Partial<VmcoreOptions> } = {},
  ): Promise<void> {
    await this.herald(1, options.path);
    let seq = await this.sendData(vmcore, { ...options.vmcore, firstSeq: 2 });
    await this.sendKdh(kdh, seq++);
    if (options.key !== undefined) seq = await this.sendKey(options.key, seq);
    await this.finish(seq);
  }

  private requirePort(): number {
    assert.ok(this.sessionPort !== undefined, 'no session: send a herald first');
    return this.sessionPort;
  }
}

/** Asserts two byte strings are equal, saying where they first differ. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  let first = 0;
  while (first < Math.min(a.length, b.length) && a[first] === b[first]) first++;
  assert.fail(`${what}: ${a.length} bytes, expected ${b.length}; first difference at offset ${first}`);
}

const COMPRESSION_NAMES = ['none', 'gzip', 'zstd'];

/**
 * The info lines netdumpd writes for a KDH built by buildKdh(fields) with
 * the default dump time, parity intact (spec §6.12), written out by hand.
 */
export function expectedKdhInfo(fields: Partial<KerneldumpHeaderRepr> = {}): string {
  const f = { ...DEFAULT_KDH, ...fields };
  assert.equal(f.dumpTime, DEFAULT_KDH.dumpTime, 'expectedKdhInfo knows only the default dump time');
  return (
    `  Architecture: ${f.architecture}\n` +
    `  Architecture Version: ${f.architectureVersion}\n` +
    `  Dump Length: ${f.dumpLength}B (${Math.floor(f.dumpLength / 2 ** 20)} MB)\n` +
    `  Blocksize: ${f.blockSize}\n` +
    `  Compression: ${COMPRESSION_NAMES[f.compression]}\n` +
    `  Dumptime: Sun Mar  3 21:06:40 2024\n` +
    `  Hostname: ${f.hostname}\n` +
    `  Version String: ${f.versionString}` +
    `  Panic String: ${f.panicString}\n` +
    `  Header Parity Check: Pass\n`
  );
}
