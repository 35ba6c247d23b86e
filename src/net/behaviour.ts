/**
 * What the stack and its wait loops need from above: how the kernel they
 * imitate behaves where a peer can tell (spec §9), the kernel's DELAY()
 * primitive, and the kernel's numbers for a poll and a wait. A client
 * profile satisfies NetBehaviour; net never imports the client.
 */

export interface NetBehaviour {
  /**
   * The kernel's subsystem: 'netdump' (12.x, netdump_* functions) or
   * 'debugnet' (13+). It names the functions in console messages and picks
   * which ARP fallback runs.
   */
  subsystem: 'netdump' | 'debugnet';
  /** 13+ accepts broadcast ARP; 12.x drops every broadcast frame (spec §3.5). */
  acceptBroadcastArp: boolean;
  /** 12.x takes an ARP reply at any time and overwrites the MAC; 13+ only the first. */
  arpRepliesAnyTime: boolean;
  /** 13+ ignores IP until the next-hop MAC is known. */
  ipNeedsNextHop: boolean;
  /** 13+ takes only a UDP payload of exactly 4 bytes as an ack; 12.x anything of 4 or more. */
  ackExactlyFourBytes: boolean;
  /** 12.x re-latches the server port while it is still 20023; 13+ latches on the first ack only. */
  latchPortOnFirstAckOnly: boolean;
  /** 12.x skips the gateway fallback when gateway == server; 13+ does not (spec §3.2). */
  gatewayFallbackNeedsDistinctGateway: boolean;
}

/** The kernel's DELAY(): waits `microseconds`, holding the CPU as the kernel does. */
export type Delay = (microseconds: number) => void;

/** The wait between two polls of the send and ARP loops: DELAY(500) (spec §3.3). */
export const POLL_DELAY_US = 500;

/** The frame budget of one driver poll: netdump_network_poll's count of 1000. */
export const DRIVER_POLL_COUNT = 1000;
