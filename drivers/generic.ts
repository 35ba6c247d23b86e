/**
 * The generic shim: a NIC with no quirks. Transmit takes a descriptor of a
 * 256-deep ring (EBUSY when the link is down or the ring is full), and the
 * doorbell rings when the poll comes, as for the other shims (tx-queue.ts);
 * its poll drains everything pending, up to the caller's count.
 */
import type { FrameBackend } from './backend.js';
import { MCLBYTES, type DriverEvent, type DriverInit, type FrameInput, type InterfaceFacts, type NetdumpDriver } from './driver.js';
import { TxQueue } from './tx-queue.js';

const TX_RING_DEPTH = 256;

export class GenericDriver implements NetdumpDriver {
  readonly name: string = 'generic';
  private readonly txQueue: TxQueue;

  constructor(protected readonly backend: FrameBackend) {
    this.txQueue = new TxQueue(backend, 'generic', TX_RING_DEPTH, `the TX ring is full (${TX_RING_DEPTH} descriptors)`);
  }

  facts(): InterfaceFacts {
    return this.backend.facts();
  }

  init(): DriverInit {
    return { rxRings: 1, clustersPerRing: TX_RING_DEPTH, clusterSize: MCLBYTES };
  }

  event(event: DriverEvent): void {
    this.txQueue.event(event);
  }

  transmit(frame: Uint8Array): void {
    this.txQueue.transmit(frame);
  }

  poll(count: number, input: FrameInput): number {
    this.txQueue.reclaim();
    return this.backend.receive(count, input);
  }

  close(): void {
    this.txQueue.flushAtEnd();
    this.backend.close();
  }
}
