/**
 * Finding the next hop's MAC as the kernel does (spec §3.2): the server
 * first, `arpRetries` requests each followed by up to `polls` wait steps
 * (a poll and DELAY(500)), "(ARP retry)" after each unanswered one, then
 * the gateway.
 */
import { NetdumpError } from '../../errors/index.js';
import type { NetBehaviour } from './behaviour.js';
import type { NetStack } from './stack.js';

export interface ArpSettings {
  arpRetries: number;
  polls: number;
  behaviour: NetBehaviour;
  print: (text: string) => void;
}

function tryTarget(stack: NetStack, target: number, settings: ArpSettings): boolean {
  for (let attempt = 0; attempt < settings.arpRetries && stack.nextHopMac === undefined; attempt++) {
    stack.sendArpRequest(target);
    for (let poll = 0; poll < settings.polls && stack.nextHopMac === undefined; poll++) {
      stack.pollAndWait();
    }
    if (stack.nextHopMac === undefined) settings.print('(ARP retry)');
  }
  return stack.nextHopMac !== undefined;
}

/** Resolves the next hop's MAC into stack.nextHopMac; throws ETIMEDOUT with the kernel's messages. */
export function resolveNextHop(stack: NetStack, settings: ArpSettings): void {
  const { serverIp, gatewayIp } = stack.config;
  if (tryTarget(stack, serverIp, settings)) return;
  if (settings.behaviour.subsystem === 'netdump') {
    if (gatewayIp !== 0 && (serverIp !== gatewayIp || !settings.behaviour.gatewayFallbackNeedsDistinctGateway)) {
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
