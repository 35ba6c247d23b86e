/** Loads the C addon and turns its errors into NetdumpErrors. */
import { createRequire } from 'node:module';

import { errorCodeOf, NetdumpError } from '../errors/index.js';
import type { InterfaceInfo, OpenOptions, PcapOpenOptions, SocketStats, UdpSocketOptions } from './socket-types.js';

/** Raw Ethernet frames on one interface: what PacketSocket and PcapSocket both offer. */
export interface NativeFrameSocket {
  readonly rxData: Buffer;
  readonly rxResults: Buffer;
  info(): InterfaceInfo;
  stats(): SocketStats;
  gro(enabled?: boolean): boolean;
  link(): number;
  send(frame: Uint8Array): number;
  recvBatch(max: number): number;
  watch(callback: () => void): void;
  unwatch(): void;
  close(): void;
}

export interface NativePacketSocket extends NativeFrameSocket {
  readonly receivesFromRing: boolean;
  sendBatch(frames: readonly Uint8Array[], count?: number): number;
  queue(frame: Uint8Array): void;
  flush(): number;
}

/** PacketSocket's surface but sendBatch, queue and flush, through libpcap (native/pcap_addon.c). */
export type NativePcapSocket = NativeFrameSocket;

export interface NativeUdpSocket {
  readonly rxData: Buffer;
  readonly rxResults: Buffer;
  bind(address: string, port: number): void;
  connect(address: string, port: number): void;
  localAddress(): { address: string; port: number };
  recvBatch(max: number): number;
  send(data: Uint8Array, address?: string, port?: number): number;
  sendBatch(datagrams: readonly Uint8Array[], count?: number): number;
  watch(callback: () => void): void;
  unwatch(): void;
  close(): void;
}

export interface NativeCaptureFile {
  record(frame: Uint8Array): void;
  close(): void;
}

interface NativeModule {
  PacketSocket: new (ifname: string, options: OpenOptions) => NativePacketSocket;
  UdpSocket: new (options: UdpSocketOptions) => NativeUdpSocket;
  CaptureFile: new (path: string, ringBytes: number) => NativeCaptureFile;
  /** Throws ENOSYS when the addon was built without libpcap. */
  PcapSocket: new (ifname: string, options: PcapOpenOptions) => NativePcapSocket;
  /** pcap_lib_version(), or null when the addon was built without libpcap. */
  pcapVersion: string | null;
  delay(microseconds: number): void;
  threadCpus(): number[];
  setThreadCpus(cpus: readonly number[]): void;
  openSyslog(ident: string): void;
  syslog(priority: number, message: string): void;
  openBeneath(dirfd: number, path: Uint8Array): number;
  openAt(dirfd: number, name: Uint8Array, flags: number, mode: number): number;
  renameAt(dirfd: number, from: Uint8Array, to: Uint8Array): void;
  symlinkAt(target: Uint8Array, dirfd: number, name: Uint8Array): void;
  unlinkAt(dirfd: number, name: Uint8Array): void;
  pwriteAll(fd: number, data: Uint8Array, position: bigint): void;
  watchStopSignals(): Buffer;
  unwatchStopSignals(): void;
  /** An 8-byte Buffer over the double readClock() writes: CLOCK_MONOTONIC in µs. */
  clockCell(): Buffer;
  readClock(): void;
}

function load(): NativeModule {
  const require = createRequire(import.meta.url);
  try {
    return require('../../build/Release/netdump_native.node') as NativeModule;
  } catch (error) {
    throw new NetdumpError('EIO', `the native addon is not built (${(error as Error).message}); run npm ci or npm run build`);
  }
}

export const addon = load();

/** The addon's coded errors as NetdumpErrors; anything else unchanged. */
export function asNetdumpError(error: unknown): unknown {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    const { code, errno } = error as Error & { code: string; errno?: number };
    return new NetdumpError(errorCodeOf(code), error.message, errno);
  }
  return error;
}

/** Calls into the addon, turning its coded errors into NetdumpErrors. */
export function call<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw asNetdumpError(error);
  }
}
