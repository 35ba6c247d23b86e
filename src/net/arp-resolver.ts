/**
 * Finding the next hop's MAC as the kernel does (spec §3.2): the server
 * first, `arpRetries` requests each followed by up to `polls` polls of
 * 0.5 ms, "(ARP retry)" after each unanswered one, then the gateway.
 */
import { delayMicroseconds } from '../../native/index.js';
import type { Profile } from '../client/profile.js';
import { NetdumpError } from '../errors.js';
import type { NetStack } from './stack.js';

export interface ArpSettings {
  arpRetries: number;
  polls: number;
  profile: Profile;
  print: (text: string) => void;
}

function tryTarget(stack: NetStack, target: number, settings: ArpSettings): boolean {
  for (let attempt = 0; attempt < settings.arpRetries && stack.nextHopMac === undefined; attempt++) {
    stack.sendArpRequest(target);
    for (let poll = 0; poll < settings.polls && stack.nextHopMac === undefined; poll++) {
      stack.poll();
      delayMicroseconds(500);
    }
    if (stack.nextHopMac === undefined) settings.print('(ARP retry)');
  }
  return stack.nextHopMac !== undefined;
}

/** Resolves the next hop's MAC into stack.nextHopMac; throws ETIMEDOUT with the kernel's messages. */
export function resolveNextHop(stack: NetStack, settings: ArpSettings): void {
  const { serverIp, gatewayIp } = stack.config;
  if (tryTarget(stack, serverIp, settings)) return;
  if (settings.profile.name === 'freebsd12') {
    if (gatewayIp !== 0 && (serverIp !== gatewayIp || !settings.profile.gatewayFallbackNeedsDistinctGateway)) {
      settings.print('Failed to ARP server, trying to reach gateway...\n');
      if (tryTarget(stack, gatewayIp, settings)) return;
    }
    settings.print('\nARP timed out.\n');
  } else {
    settings.print('\nFailed to ARP server');
    if (gatewayIp === 0) {
      settings.print('.\n');
    } else {
      // 13+ retries the "gateway" even when it is the server, forever (spec §3.2); we stop after one pass.
      settings.print(', trying to reach gateway...\n');
      if (tryTarget(stack, gatewayIp, settings)) return;
      settings.print('\nFailed to ARP gateway.\n');
    }
  }
  throw new NetdumpError('ETIMEDOUT', 'no ARP reply from the server or the gateway');
}
