/**
 * The dump's preallocated mbuf zones, sized from the driver's init() the way
 * the kernel sizes them (spec §8.1): mbufs = clusters per ring × (4 + RX
 * rings), clusters = clusters per ring × RX rings. Transmitted packets hold
 * their mbufs until the next poll reaps the completions; running out is
 * ENOBUFS, as m_gethdr failing is in the kernel — the zones never grow.
 */
import type { DriverInit } from '../../drivers/driver.js';
import { NetdumpError } from '../../errors/index.js';

/** A netdump message takes a header mbuf and an external-data mbuf. */
export const MBUFS_PER_PACKET = 2;

export class DumpZones {
  readonly mbufs: number;
  readonly clusters: number;
  readonly clusterSize: number;
  private mbufsInFlight = 0;

  constructor(init: DriverInit) {
    this.mbufs = init.clustersPerRing * (4 + init.rxRings);
    this.clusters = init.clustersPerRing * init.rxRings;
    this.clusterSize = init.clusterSize;
  }

  /** Takes `count` mbufs for a transmit; ENOBUFS when the zone is empty. */
  takeForTransmit(count: number): void {
    if (this.mbufsInFlight + count > this.mbufs) {
      throw new NetdumpError('ENOBUFS', `out of mbufs: ${this.mbufsInFlight} of ${this.mbufs} are in flight awaiting a poll`);
    }
    this.mbufsInFlight += count;
  }

  /** A poll reaped every completed transmit. */
  reclaimTransmits(): void {
    this.mbufsInFlight = 0;
  }

  get inFlight(): number {
    return this.mbufsInFlight;
  }
}
