/**
 * iflib drivers (em, igb, and alike: ix, ixl, bnxt), as their netdump
 * methods behave (spec §8.2): init reports the RX queue sets, the free-list
 * size of queue 0 and its buffer size; transmit uses TX queue 0, where
 * iflib rings a doorbell per frame (iflib_no_tx_batch; ours rings at the
 * poll, tx-queue.ts says why), and fails with EBUSY when the interface is
 * not running or the ring has no free descriptor; poll reclaims
 * completed transmits and reaps at most 16 frames per RX queue, whatever
 * count it is given. The RX queue sets are those Linux has in use on the
 * interface (ethtool channels); the ring depth is the FreeBSD driver's.
 */
import type { FrameBackend } from './backend.js';
import {
  ETHER_FRAME_OVERHEAD,
  ETHERMTU,
  MCLBYTES,
  MJUM9BYTES,
  MJUMPAGESIZE,
  type DriverEvent,
  type DriverInit,
  type FrameInput,
  type InterfaceFacts,
  type NetdumpDriver,
} from './driver.js';
import { TxQueue } from './tx-queue.js';

export interface IflibModel {
  name: 'em' | 'igb';
  /** Descriptors of TX queue 0 and of each RX free list. */
  ringDepth: number;
}

/** iflib_rxeof(rxq, 16) for every RX queue on each poll. */
export const IFLIB_RX_BUDGET_PER_QUEUE = 16;

export const EM: IflibModel = { name: 'em', ringDepth: 1024 };
export const IGB: IflibModel = { name: 'igb', ringDepth: 1024 };

export class IflibDriver implements NetdumpDriver {
  readonly name: string;
  private readonly txQueue: TxQueue;
  /** RX queue sets; a poll reaps 16 frames from each. */
  private readonly rxQueues: number;

  constructor(
    private readonly backend: FrameBackend,
    private readonly model: IflibModel,
  ) {
    this.name = model.name;
    this.txQueue = new TxQueue(
      backend,
      model.name,
      model.ringDepth,
      `TX queue 0 is full (${model.ringDepth} descriptors awaiting reclaim)`,
    );
    // Read once: a poll must not cost the five ioctls of facts(), and a panicking kernel's queues do not change.
    this.rxQueues = backend.facts().rxQueues;
  }

  facts(): InterfaceFacts {
    return this.backend.facts();
  }

  init(): DriverInit {
    // The free list's buffer size follows the MTU: 2 KiB clusters, or page/jumbo clusters above.
    const { mtu } = this.facts();
    const clusterSize = mtu <= ETHERMTU ? MCLBYTES : mtu + ETHER_FRAME_OVERHEAD <= MJUMPAGESIZE ? MJUMPAGESIZE : MJUM9BYTES;
    return { rxRings: this.rxQueues, clustersPerRing: this.model.ringDepth, clusterSize };
  }

  /** START points the free lists at the dump zones and turns TX batching off: nothing Linux can mirror. */
  event(event: DriverEvent): void {
    this.txQueue.event(event);
  }

  transmit(frame: Uint8Array): void {
    this.txQueue.transmit(frame);
  }

  poll(_count: number, input: FrameInput): number {
    this.txQueue.reclaim();
    return this.backend.receive(this.rxQueues * IFLIB_RX_BUDGET_PER_QUEUE, input);
  }

  close(): void {
    this.txQueue.flushAtEnd();
    this.backend.close();
  }
}
