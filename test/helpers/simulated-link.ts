/**
 * A link to a netdump server, simulated in process: the server side answers
 * ARP for the addresses it owns and acks netdump messages, each answer
 * delivered at the client's next poll. By default it is a perfect, prompt
 * server (every message acked once, from port 20023, with a 4-byte ack);
 * `answer` changes what it sends back. It counts what the client did and
 * keeps the VMCORE payloads that reached it, so tests can predict the
 * vmcore a server would write. No socket, no root: the send loop's unit
 * tests and the fault injector's predictions run over it.
 */
import type { DriverInit, FrameInput, InterfaceFacts, NetdumpDriver } from '../../drivers/driver.js';
import {
  ARP_FRAME_SIZE,
  ARP_OP_REQUEST,
  emitArpReplyFrame,
  emitNetdumpAck,
  ETHERNET_HEADER_SIZE,
  ethernetEtherType,
  ETHERTYPE_ARP,
  isUdpFrame,
  NETDUMP_ACK_SIZE,
  NETDUMP_ACKPORT,
  NETDUMP_HEADER_SIZE,
  NETDUMP_PORT,
  NETDUMP_VMCORE,
  netdumpLen,
  netdumpOffset,
  netdumpSeqno,
  netdumpType,
  parseArp,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { emitUdpFrame } from './udp-frames.js';

export const SIMULATED_CLIENT_MAC = Uint8Array.from([0x02, 0, 0x5e, 0x10, 0, 1]);
export const SIMULATED_SERVER_MAC = Uint8Array.from([0x02, 0, 0x5e, 0x10, 0, 2]);

/** A netdump message as the simulated server received it. */
export interface ReceivedMessage {
  type: number;
  seqno: number;
  offset: number;
  len: number;
}

/** One ack the server sends: the seqno, and optionally a source port other than 20023 or a payload other than 4 bytes. */
export interface SimulatedAck {
  seqno: number;
  srcPort?: number;
  payloadBytes?: number;
}

export interface SimulatedLinkOptions {
  mtu?: number;
  /** The ARP targets the far side answers; the server's address by default. */
  answersArpFor?: number[];
}

export class SimulatedServerLink implements NetdumpDriver {
  readonly name = 'simulated';
  /** What the server sends back for the `sighting`-th arrival (0 first) of a message with this seqno. */
  answer: (message: ReceivedMessage, sighting: number) => SimulatedAck[] = (message) => [{ seqno: message.seqno }];
  /** The target address of every ARP request the client sent, in order. */
  readonly arpRequests: number[] = [];
  /** Every netdump message that arrived, in order. */
  readonly received: ReceivedMessage[] = [];
  polls = 0;
  private pending: Buffer[] = [];
  private readonly sightings = new Map<number, number>();
  private readonly vmcoreWrites: Array<{ offset: number; data: Buffer }> = [];
  private readonly mtu: number;
  private readonly answersArpFor: Set<number>;

  constructor(
    private readonly clientIp: number,
    private readonly serverIp: number,
    options: SimulatedLinkOptions = {},
  ) {
    this.mtu = options.mtu ?? 1500;
    this.answersArpFor = new Set(options.answersArpFor ?? [serverIp]);
  }

  facts(): InterfaceFacts {
    return {
      name: 'sim0',
      mac: SIMULATED_CLIENT_MAC,
      mtu: this.mtu,
      up: true,
      running: true,
      linuxDriver: 'simulated',
      rxQueues: 1,
      maxRxQueues: 1,
    };
  }

  init(): DriverInit {
    return { rxRings: 1, clustersPerRing: 256, clusterSize: 2048 };
  }

  event(): void {}

  transmit(frame: Uint8Array): void {
    if (ethernetEtherType(frame) === ETHERTYPE_ARP) return this.receiveArp(frame);
    if (!isUdpFrame(frame, NETDUMP_HEADER_SIZE)) return;
    const message: ReceivedMessage = {
      type: netdumpType(frame, UDP_PAYLOAD_OFFSET),
      seqno: netdumpSeqno(frame, UDP_PAYLOAD_OFFSET),
      offset: netdumpOffset(frame, UDP_PAYLOAD_OFFSET),
      len: netdumpLen(frame, UDP_PAYLOAD_OFFSET),
    };
    this.received.push(message);
    if (message.type === NETDUMP_VMCORE) {
      const start = UDP_PAYLOAD_OFFSET + NETDUMP_HEADER_SIZE;
      this.vmcoreWrites.push({ offset: message.offset, data: Buffer.from(frame.subarray(start, start + message.len)) });
    }
    const sighting = this.sightings.get(message.seqno) ?? 0;
    this.sightings.set(message.seqno, sighting + 1);
    for (const ack of this.answer(message, sighting)) this.pending.push(this.ackFrame(ack));
  }

  poll(count: number, input: FrameInput): number {
    this.polls++;
    const frames = this.pending.splice(0, count);
    for (const frame of frames) input(frame, 0);
    return frames.length;
  }

  close(): void {}

  /** Delivers `frame` at the next poll, as if the server had sent it. */
  inject(frame: Buffer): void {
    this.pending.push(frame);
  }

  /** An ack frame from the server to the client. */
  ackFrame({ seqno, srcPort = NETDUMP_PORT, payloadBytes = NETDUMP_ACK_SIZE }: SimulatedAck): Buffer {
    const payload = Buffer.alloc(payloadBytes);
    if (payloadBytes >= NETDUMP_ACK_SIZE) emitNetdumpAck({ seqno }, payload);
    const frame = Buffer.alloc(UDP_PAYLOAD_OFFSET + payloadBytes);
    emitUdpFrame(
      {
        srcMac: SIMULATED_SERVER_MAC,
        dstMac: SIMULATED_CLIENT_MAC,
        srcIp: this.serverIp,
        dstIp: this.clientIp,
        srcPort,
        dstPort: NETDUMP_ACKPORT,
      },
      payload,
      frame,
    );
    return frame;
  }

  /** The vmcore a server writing every VMCORE message that arrived at its offset would hold: zeros where none did. */
  vmcoreImage(): Buffer {
    const length = Math.max(0, ...this.vmcoreWrites.map((write) => write.offset + write.data.length));
    const image = Buffer.alloc(length);
    for (const { offset, data } of this.vmcoreWrites) data.copy(image, offset);
    return image;
  }

  private receiveArp(frame: Uint8Array): void {
    const arp = parseArp(frame.subarray(ETHERNET_HEADER_SIZE));
    if (arp.op !== ARP_OP_REQUEST) return;
    this.arpRequests.push(arp.targetIp);
    if (!this.answersArpFor.has(arp.targetIp)) return;
    const reply = Buffer.alloc(ARP_FRAME_SIZE);
    emitArpReplyFrame({ senderMac: SIMULATED_SERVER_MAC, senderIp: arp.targetIp, targetMac: arp.senderMac, targetIp: arp.senderIp }, reply);
    this.pending.push(reply);
  }
}
