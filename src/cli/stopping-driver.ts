/**
 * Wraps the dump's driver so that a stop signal (Ctrl-C, SIGTERM, SIGHUP)
 * ends the dump at its next poll, within 0.5 ms: the error unwinds through
 * the client, whose end event puts the interface's settings back (vtnet's
 * GRO), and the CLI closes the driver and its capture and trace files.
 */
import { DriverWrapper } from '../../drivers/middleware/wrapper.js';
import type { FrameInput, NetdumpDriver } from '../../drivers/driver.js';
import { signalName, type StopSignals } from '../../native/index.js';
import { NetdumpError } from '../../errors/index.js';

export class StoppingDriver extends DriverWrapper {
  constructor(
    inner: NetdumpDriver,
    private readonly signals: StopSignals,
  ) {
    super(inner);
  }

  override poll(count: number, input: FrameInput): number {
    const signal = this.signals.caught;
    if (signal !== 0) throw new NetdumpError('EINTR', `interrupted by ${signalName(signal)}`, signal);
    return this.inner.poll(count, input);
  }
}
