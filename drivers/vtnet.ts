/**
 * vtnet (virtio-net), as its netdump/debugnet methods behave (spec §8.2):
 * init reports the virtqueue pairs (12.x the most the device has, 13+ those
 * in use; Linux's ethtool channels), 64 clusters (one per packet in flight)
 * and the RX cluster size; under 13+ the start event turns software LRO off
 * and the end event restores it, which Linux mirrors with GRO; transmit
 * fails with EBUSY when not running or when the TX virtqueue is full; poll
 * drains every pending frame up to hw.vtnet.rx_process_limit.
 */
import type { FrameBackend } from './backend.js';
import {
  ETHERMTU,
  MCLBYTES,
  MJUMPAGESIZE,
  type DriverEvent,
  type DriverInit,
  type FrameInput,
  type InterfaceFacts,
  type NetdumpDriver,
} from './driver.js';
import { TxQueue } from './tx-queue.js';

/** hw.vtnet.rx_process_limit's default. */
export const VTNET_RX_PROCESS_LIMIT = 1024;
const TX_VIRTQUEUE_SIZE = 256;
const CLUSTERS_IN_FLIGHT = 64;

/** Where a FreeBSD release's vtnet differs in its netdump methods. */
export interface VtnetModel {
  /** 13+ turns software LRO off at the start event and back on at the end; Linux mirrors it with GRO. */
  togglesLro: boolean;
  /** init's RX rings: 12.x reports the most virtqueue pairs, 13+ the pairs in use. */
  reportsMaxQueues: boolean;
}

export const VTNET12: VtnetModel = { togglesLro: false, reportsMaxQueues: true };
export const VTNET13: VtnetModel = { togglesLro: true, reportsMaxQueues: false };

export class VtnetDriver implements NetdumpDriver {
  readonly name = 'vtnet';
  private groBefore: boolean | undefined;
  private readonly txQueue: TxQueue;

  constructor(
    private readonly backend: FrameBackend,
    private readonly model: VtnetModel = VTNET13,
  ) {
    this.txQueue = new TxQueue(backend, 'vtnet', TX_VIRTQUEUE_SIZE, `the TX virtqueue is full (${TX_VIRTQUEUE_SIZE} entries)`);
  }

  facts(): InterfaceFacts {
    return this.backend.facts();
  }

  init(): DriverInit {
    const { mtu, rxQueues, maxRxQueues } = this.facts();
    const rxRings = this.model.reportsMaxQueues ? maxRxQueues : rxQueues;
    return { rxRings, clustersPerRing: CLUSTERS_IN_FLIGHT, clusterSize: mtu <= ETHERMTU ? MCLBYTES : MJUMPAGESIZE };
  }

  event(event: DriverEvent): void {
    this.txQueue.event(event);
    if (!this.model.togglesLro) return;
    if (event === 'start') {
      this.groBefore = this.backend.gro();
      if (this.groBefore) this.backend.gro(false);
    } else if (this.groBefore !== undefined) {
      if (this.groBefore) this.backend.gro(true);
      this.groBefore = undefined;
    }
  }

  transmit(frame: Uint8Array): void {
    this.txQueue.transmit(frame);
  }

  poll(_count: number, input: FrameInput): number {
    this.txQueue.reclaim();
    return this.backend.receive(VTNET_RX_PROCESS_LIMIT, input);
  }

  close(): void {
    this.event('end');
    this.backend.close();
  }
}
