/** UdpSocket: a kernel UDP socket with batched receive and send, for the server. */
import { addon, call, type NativeUdpSocket } from './addon.js';
import type { UdpSocketOptions } from './socket-types.js';

export type { UdpSocketOptions } from './socket-types.js';

const RESULT_FIELDS = 5; // slot, length, source address, source port, destination address

/**
 * After recvBatch, datagram i is `payload(i)` from `sourceAddress(i)`:`sourcePort(i)`
 * to `destinationAddress(i)` (IPv4 addresses as unsigned 32-bit numbers).
 */
export class UdpSocket {
  private readonly native: NativeUdpSocket;
  private readonly results: Uint32Array;
  private readonly slotSize: number;

  constructor(options: UdpSocketOptions = {}) {
    this.native = call(() => new addon.UdpSocket(options));
    const { rxResults, rxData } = this.native;
    this.results = new Uint32Array(rxResults.buffer, rxResults.byteOffset, rxResults.length / 4);
    this.slotSize = rxData.length / (this.results.length / RESULT_FIELDS);
  }

  bind(address: string, port: number): void {
    call(() => this.native.bind(address, port));
  }

  connect(address: string, port: number): void {
    call(() => this.native.connect(address, port));
  }

  localAddress(): { address: string; port: number } {
    return call(() => this.native.localAddress());
  }

  /** Receives up to `max` waiting datagrams without blocking; returns how many. */
  recvBatch(max: number): number {
    return call(() => this.native.recvBatch(max));
  }

  /** The receive slots' memory: datagram i starts at `slotOffset(i)`. */
  get rxData(): Buffer {
    return this.native.rxData;
  }

  slotOffset(index: number): number {
    return this.results[RESULT_FIELDS * index]! * this.slotSize;
  }

  length(index: number): number {
    return this.results[RESULT_FIELDS * index + 1]!;
  }

  /** A view of datagram `index`, valid until the next recvBatch. */
  payload(index: number): Buffer {
    const start = this.slotOffset(index);
    return this.native.rxData.subarray(start, start + this.length(index));
  }

  sourceAddress(index: number): number {
    return this.results[RESULT_FIELDS * index + 2]!;
  }

  sourcePort(index: number): number {
    return this.results[RESULT_FIELDS * index + 3]!;
  }

  /** The address the datagram was sent to (needs the pktinfo option), else 0. */
  destinationAddress(index: number): number {
    return this.results[RESULT_FIELDS * index + 4]!;
  }

  /** Sends one datagram to the connected peer, or to address:port. */
  send(data: Uint8Array, address?: string, port?: number): void {
    call(() => (address === undefined ? this.native.send(data) : this.native.send(data, address, port)));
  }

  /** Sends datagrams[0..count) to the connected peer; stops early if the socket buffer is full. */
  sendBatch(datagrams: readonly Uint8Array[], count = datagrams.length): number {
    return call(() => this.native.sendBatch(datagrams, count));
  }

  onReadable(callback: () => void): void {
    this.native.watch(callback);
  }

  stopWatching(): void {
    this.native.unwatch();
  }

  close(): void {
    this.native.close();
  }
}
