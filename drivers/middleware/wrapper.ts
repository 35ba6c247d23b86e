/**
 * Middleware wraps any driver without the driver knowing, as smoltcp's
 * middleware devices do: it implements the same interface and passes every
 * call through, changing or recording what it is there for.
 */
import type { DriverEvent, DriverInit, FrameInput, InterfaceFacts, NetdumpDriver } from '../driver.js';

export class DriverWrapper implements NetdumpDriver {
  constructor(protected readonly inner: NetdumpDriver) {}

  get name(): string {
    return this.inner.name;
  }

  facts(): InterfaceFacts {
    return this.inner.facts();
  }

  init(): DriverInit {
    return this.inner.init();
  }

  event(event: DriverEvent): void {
    this.inner.event(event);
  }

  transmit(frame: Uint8Array): void {
    this.inner.transmit(frame);
  }

  poll(count: number, input: FrameInput): number {
    return this.inner.poll(count, input);
  }

  close(): void {
    this.inner.close();
  }
}
