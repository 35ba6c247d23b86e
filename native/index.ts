/**
 * Typed face of the C addon (native/*.c). Everything on the dump path that
 * makes a system call goes through here.
 */
import { addon, call } from './addon.js';

export { PacketSocket, RxFlag, type InterfaceInfo, type OpenOptions, type SocketStats } from './packet-socket.js';
export { PcapSocket, pcapVersion, type PcapOpenOptions } from './pcap-socket.js';
export { UdpSocket, type UdpSocketOptions } from './udp-socket.js';
export { CaptureFile } from './capture-file.js';
export { LinkFlag } from './frame-socket.js';
export { signalName, StopSignals } from './stop-signals.js';
export { HeldDirectory, pwriteAll, type FileName } from './held-directory.js';
export { monotonicMicros } from './clock.js';

/** Busy-waits like the kernel's DELAY(): precise, and it holds the CPU. */
export function delayMicroseconds(microseconds: number): void {
  addon.delay(microseconds);
}

/** The CPUs the calling thread may run on. */
export function threadCpus(): number[] {
  return call(() => addon.threadCpus());
}

/**
 * Confines the calling thread, and threads and processes it starts later,
 * to these CPUs; the process's other threads keep theirs.
 */
export function setThreadCpus(cpus: readonly number[]): void {
  call(() => addon.setThreadCpus(cpus));
}

/** syslog(3) priorities, facility LOG_DAEMON included. */
export const SyslogPriority = { Err: 3 | (3 << 3), Warning: 4 | (3 << 3), Info: 6 | (3 << 3) } as const;

export function openSyslog(ident: string): void {
  call(() => addon.openSyslog(ident));
}

export function syslog(priority: number, message: string): void {
  call(() => addon.syslog(priority, message));
}
