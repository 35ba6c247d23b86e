/**
 * A shim's view of the interface's link during a dump, read at the start
 * event and at every poll rather than for every frame (re-reading all the
 * interface's facts cost 8-10 µs, more than a transmit). In a panicking
 * kernel the flags a transmit checks cannot change between polls: no
 * interrupts or taskqueues run. Here a change shows within one poll.
 */
import { LinkFlag } from '../native/index.js';
import type { FrameBackend } from './backend.js';

export class LinkWatch {
  private flags: number;

  constructor(private readonly backend: FrameBackend) {
    this.flags = backend.link();
  }

  refresh(): void {
    this.flags = this.backend.link();
  }

  /** Linux's IFF_RUNNING (a carrier), standing in for the driver's IFF_DRV_RUNNING and link checks. */
  get running(): boolean {
    return (this.flags & LinkFlag.Running) !== 0;
  }
}
