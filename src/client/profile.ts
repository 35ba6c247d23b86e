/**
 * Behaviour profiles: every row of spec §9 that a peer can observe, as
 * data, so that the code paths read the same for both kernels.
 */
import { VTNET12, VTNET13, type VtnetModel } from '../../drivers/vtnet.js';
import type { NetBehaviour } from '../net/behaviour.js';
import { IPV4_HEADER_SIZE, NETDUMP_DATASIZE, NETDUMP_HEADER_SIZE, UDP_HEADER_SIZE } from '../wire/index.js';

/** The FreeBSD release whose dump a profile sends: its KDH, minidump, EKCD and compression rules. */
export type KernelRelease = 'freebsd12' | 'freebsd13';

export interface Profile extends NetBehaviour {
  name: KernelRelease | 'fast';
  kernel: KernelRelease;
  /**
   * How VMCORE data is sent: 'kernel' is the kernel's stop-and-wait per
   * batch (spec §3.3); 'window' keeps packets in flight across batches
   * with a measured retransmit (pipelined-sender.ts), which netdumpd
   * accepts because it acks every packet and writes at offsets (spec §6.6, §6.7).
   */
  sendLoop: 'kernel' | 'window';
  /** 13+ dropped the 4096-byte cap; netdumpd still refuses more (spec §2.7). */
  capPayloadAt4096: boolean;
  /** 13+ coalesces contiguous dumper writes into 64 KiB batches (spec §3.4). */
  coalesceWrites: boolean;
  /**
   * Batches hold whole packets: contiguous writes are cut at the largest
   * multiple of the payload that fits 64 KiB, so that only a gap's last
   * packet and the dump's are short. The kernels cut at their writes: at
   * MTU 1500 each 64 KiB batch ends in a 376-byte packet, 1.6 % more
   * packets (and acks) for the same data.
   */
  wholePacketBatches: boolean;
  /** 13+ sends the EKCD key right after the herald, 12.x after the KDH (spec §1.2). */
  keyBeforeData: boolean;
  /** 12.x with no gateway uses the server as gateway; 13+ leaves it unset (spec §3.1). */
  serverIsDefaultGateway: boolean;
  minidumpVersion: 2 | 3;
  /** The release's vtnet: 13+'s turns LRO off for the dump, 12.x's has no event; init's rings differ (spec §8.2). */
  vtnet: VtnetModel;
}

export const FREEBSD12: Profile = {
  name: 'freebsd12',
  kernel: 'freebsd12',
  sendLoop: 'kernel',
  subsystem: 'netdump',
  capPayloadAt4096: true,
  coalesceWrites: false,
  wholePacketBatches: false,
  keyBeforeData: false,
  acceptBroadcastArp: false,
  arpRepliesAnyTime: true,
  ipNeedsNextHop: false,
  ackExactlyFourBytes: false,
  latchPortOnFirstAckOnly: false,
  serverIsDefaultGateway: true,
  gatewayFallbackNeedsDistinctGateway: true,
  minidumpVersion: 2,
  vtnet: VTNET12,
};

export const FREEBSD13: Profile = {
  name: 'freebsd13',
  kernel: 'freebsd13',
  sendLoop: 'kernel',
  subsystem: 'debugnet',
  capPayloadAt4096: false,
  coalesceWrites: true,
  wholePacketBatches: false,
  keyBeforeData: true,
  acceptBroadcastArp: true,
  arpRepliesAnyTime: false,
  ipNeedsNextHop: true,
  ackExactlyFourBytes: true,
  latchPortOnFirstAckOnly: true,
  serverIsDefaultGateway: false,
  gatewayFallbackNeedsDistinctGateway: false,
  minidumpVersion: 3,
  vtnet: VTNET13,
};

/**
 * Not a kernel: a 13+ dump, with 13+'s wire rules (4-byte acks, the port
 * latched on the first ack, coalesced writes), sent through a window that
 * spans batches, in batches of whole packets. A stock netdumpd takes it
 * unchanged: it acks every packet and writes each at its offset.
 */
export const FAST: Profile = { ...FREEBSD13, name: 'fast', sendLoop: 'window', wholePacketBatches: true };

export const PROFILES: Record<Profile['name'], Profile> = { freebsd12: FREEBSD12, freebsd13: FREEBSD13, fast: FAST };

/**
 * Payload bytes per packet (spec §2.7). The 13+ kernel would send MTU − 52,
 * which netdumpd refuses above 4096; we cap it unless asked not to.
 */
export function maxPayload(profile: Profile, mtu: number, allowOver4096 = false): number {
  const byMtu = mtu - IPV4_HEADER_SIZE - UDP_HEADER_SIZE - NETDUMP_HEADER_SIZE;
  return profile.capPayloadAt4096 || !allowOver4096 ? Math.min(NETDUMP_DATASIZE, byMtu) : byMtu;
}
