/**
 * The generic shim: a NIC with no quirks. Each transmit rings the doorbell
 * at once, as iflib and vtnet do during a dump; its poll drains everything
 * pending, up to the caller's count.
 */
import type { FrameBackend } from './backend.js';
import type { DriverInit, FrameInput, InterfaceFacts, NetdumpDriver } from './driver.js';

const TX_RING_DEPTH = 256;

export class GenericDriver implements NetdumpDriver {
  readonly name: string = 'generic';

  constructor(protected readonly backend: FrameBackend) {}

  facts(): InterfaceFacts {
    return this.backend.facts();
  }

  init(): DriverInit {
    return { rxRings: 1, clustersPerRing: TX_RING_DEPTH, clusterSize: 2048 };
  }

  event(): void {}

  transmit(frame: Uint8Array): void {
    this.backend.send(frame);
  }

  poll(count: number, input: FrameInput): number {
    return this.backend.receive(count, input);
  }

  close(): void {
    this.backend.close();
  }
}
