/**
 * Filling in what the user left out, as the 13+ ddb `netdump` command does
 * through debugnet_connect (spec §3.1, §7.1): the client address from the
 * interface's IPv4 address, the gateway from the route to the server. The
 * facts come from Linux (`ip -json`), in the interface's network namespace.
 */
import { execFileSync } from 'node:child_process';

import { NetdumpError } from '../../errors/index.js';

export interface RouteFacts {
  /** The interface's first IPv4 address in the kernel, if any. */
  interfaceAddress: string | undefined;
  /** The gateway of the route to the server, if it has one and leaves through this interface. */
  gateway: string | undefined;
  /** The interface the route to the server leaves by, if there is a route. */
  routeInterface: string | undefined;
}

function ipJson(netns: string | undefined, args: string[]): unknown {
  const command = netns === undefined ? args : ['-n', netns, ...args];
  try {
    return JSON.parse(execFileSync('ip', ['-json', ...command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '[]');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NetdumpError('ENOENT', 'cannot run ip (iproute2) to look up addresses and routes');
    return []; // no such device, no route: nothing to infer from
  }
}

export function lookUpRouteFacts(iface: string, server: string, netns?: string): RouteFacts {
  const links = ipJson(netns, ['-4', 'addr', 'show', 'dev', iface]) as Array<{ addr_info?: Array<{ family: string; local: string }> }>;
  const interfaceAddress = links[0]?.addr_info?.find((info) => info.family === 'inet')?.local;
  const routes = ipJson(netns, ['-4', 'route', 'get', server]) as Array<{ gateway?: string; dev?: string }>;
  const route = routes[0];
  return {
    interfaceAddress,
    gateway: route?.dev === iface ? route.gateway : undefined,
    routeInterface: route?.dev,
  };
}

/** Addresses configured in this namespace's kernel on any interface. */
export function isLocalAddress(address: string, netns?: string): boolean {
  const links = ipJson(netns, ['-4', 'addr', 'show']) as Array<{ addr_info?: Array<{ local: string }> }>;
  return links.some((link) => link.addr_info?.some((info) => info.local === address) ?? false);
}
