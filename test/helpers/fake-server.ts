/**
 * A fake netdump server for client tests: a kernel UDP socket at
 * server:20023 (a UdpPeer) that acks from that same socket and records every
 * message it receives. By default it acks the HERALD only and ignores
 * everything else; with `holdAcksMs` it acks everything, but holds the acks
 * until no message has arrived for that long (so a batch sent back to back
 * shows as one run of packets before its acks). And an injector that writes
 * hand-made ack frames onto the server's wire.
 */
import { PacketSocket } from '../../native/index.js';
import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { type UdpFrameAddressing } from '../../src/net/udp-frame.js';
import { emitUdpFrame } from './udp-frames.js';
import {
  emitNetdumpAck,
  ETHERNET_ETHERTYPE_OFFSET,
  NETDUMP_ACK_SIZE,
  NETDUMP_HEADER_SIZE,
  netdumpAux2,
  netdumpLen,
  netdumpOffset64,
  netdumpSeqno,
  netdumpType,
  ETHERTYPE_VLAN,
  NETDUMP_ACKPORT,
  NETDUMP_HERALD,
  NETDUMP_PORT,
  parseIpv4Address,
  parseMac,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { UdpPeer } from './udp-peer.js';

/** An 802.1Q tag: TPID 0x8100 and a TCI carrying the VLAN ID. */
const VLAN_TAG_SIZE = 4;
const VLAN_ID = 100;

export interface SeenMessage {
  type: number;
  seq: number;
  offset: bigint;
  len: number;
  aux2: number;
  /** UDP payload bytes after the 24-byte header. */
  payloadLength: number;
  fromAddress: string;
  fromPort: number;
}

export interface FakeServerOptions {
  /** Ack every message, holding the acks until no message arrived for this many ms. Default: ack the HERALD only. */
  holdAcksMs?: number;
}

export class FakeServer {
  readonly messages: SeenMessage[] = [];
  private stopped = false;
  private readonly waiters = new Set<() => void>();
  private readonly held: number[] = [];
  private holdTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly hosts: TestHosts,
    private readonly peer: UdpPeer,
    private readonly options: FakeServerOptions,
  ) {
    void this.loop();
  }

  static async start(hosts: TestHosts, options: FakeServerOptions = {}): Promise<FakeServer> {
    return new FakeServer(hosts, await UdpPeer.start(hosts, hosts.server.ns, `${hosts.server.ip}:${NETDUMP_PORT}`), options);
  }

  private ack(seq: number): void {
    const ack = Buffer.alloc(NETDUMP_ACK_SIZE);
    emitNetdumpAck({ seqno: seq }, ack);
    this.peer.send(this.hosts.client.ip, NETDUMP_ACKPORT, ack);
  }

  private hold(seq: number): void {
    this.held.push(seq);
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      for (const held of this.held.splice(0)) this.ack(held);
    }, this.options.holdAcksMs);
  }

  private async loop(): Promise<void> {
    // Ends with the peer too: a test that failed before stop() must not keep this process alive.
    while (!this.stopped && this.peer.alive) {
      const event = await this.peer.next(200);
      if (event?.event !== 'message' || event.data === undefined) continue;
      const data = Buffer.from(event.data, 'hex');
      if (data.length < NETDUMP_HEADER_SIZE) continue;
      const message: SeenMessage = {
        type: netdumpType(data),
        seq: netdumpSeqno(data),
        offset: netdumpOffset64(data),
        len: netdumpLen(data),
        aux2: netdumpAux2(data),
        payloadLength: data.length - NETDUMP_HEADER_SIZE,
        fromAddress: event.address!,
        fromPort: event.port!,
      };
      this.messages.push(message);
      if (this.options.holdAcksMs !== undefined) this.hold(message.seq);
      else if (message.type === NETDUMP_HERALD) this.ack(message.seq);
      for (const waiter of [...this.waiters]) waiter();
    }
  }

  /** Resolves with the first message satisfying `match` (already seen or yet to come). */
  waitFor(match: (message: SeenMessage) => boolean, timeoutMs: number, what: string): Promise<SeenMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find(match);
        if (found === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`the fake server saw no ${what} within ${timeoutMs} ms (saw ${this.messages.length} messages)`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  count(match: (message: SeenMessage) => boolean): number {
    return this.messages.filter(match).length;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.holdTimer);
    this.peer.stop();
  }
}

/** How an injected ack is wrong (or 'none'). */
export type AckFlaw = 'none' | 'wrong-dst-mac' | 'wrong-src-ip' | 'wrong-dst-port' | 'vlan-tagged' | 'five-byte-payload';

/** Writes ack frames onto the server's link through a packet socket in the server namespace. */
export class AckInjector {
  private readonly socket: PacketSocket;
  private readonly serverMac: Uint8Array;

  constructor(private readonly hosts: TestHosts) {
    // An EtherType nobody sends: the socket is for sending, so it should queue nothing.
    this.socket = PacketSocket.open(hosts.server.iface, { netns: hosts.server.ns, ethertype: 0x88b5, rxSlots: 1 });
    this.serverMac = parseMac(hosts.server.mac);
  }

  /** One ack frame for `seq` from server:20023 to client:20024, with `flaw` applied. */
  frame(seq: number, flaw: AckFlaw): Buffer {
    const addressing: UdpFrameAddressing = {
      srcMac: this.serverMac,
      dstMac: flaw === 'wrong-dst-mac' ? parseMac('02:00:5e:10:00:99') : parseMac(this.hosts.client.mac),
      srcIp: parseIpv4Address(flaw === 'wrong-src-ip' ? '198.18.0.3' : this.hosts.server.ip),
      dstIp: parseIpv4Address(this.hosts.client.ip),
      srcPort: NETDUMP_PORT,
      dstPort: flaw === 'wrong-dst-port' ? NETDUMP_ACKPORT + 1 : NETDUMP_ACKPORT,
    };
    const payload = Buffer.alloc(flaw === 'five-byte-payload' ? 5 : 4);
    emitNetdumpAck({ seqno: seq >>> 0 }, payload);
    const frame = Buffer.alloc(UDP_PAYLOAD_OFFSET + payload.length);
    emitUdpFrame(addressing, payload, frame);
    if (flaw !== 'vlan-tagged') return frame;
    // An 802.1Q tag (VID 100) between the source MAC and the EtherType.
    const tag = Buffer.alloc(VLAN_TAG_SIZE);
    tag.writeUInt16BE(ETHERTYPE_VLAN, 0);
    tag.writeUInt16BE(VLAN_ID, 2);
    return Buffer.concat([frame.subarray(0, ETHERNET_ETHERTYPE_OFFSET), tag, frame.subarray(ETHERNET_ETHERTYPE_OFFSET)]);
  }

  /** Sends an ack for every seq in [first, first + count) with `flaw`. */
  ackAll(first: number, count: number, flaw: AckFlaw): void {
    const frames = Array.from({ length: count }, (_, index) => this.frame(first + index, flaw));
    for (const frame of frames) this.socket.send(frame);
  }

  close(): void {
    this.socket.close();
  }
}
