/**
 * Which backend reaches the wire (afpacket or pcap, named by the user) and
 * which shim models the interface: chosen from its Linux driver, or named
 * by the user.
 */
import { NetdumpError } from '../errors/index.js';
import { AfPacketBackend } from './afpacket.js';
import type { FrameBackend } from './backend.js';
import type { NetdumpDriver } from './driver.js';
import { GenericDriver } from './generic.js';
import { EM, IflibDriver, IGB } from './iflib.js';
import { PcapBackend } from './pcap-backend.js';
import { VtnetDriver, VTNET13, type VtnetModel } from './vtnet.js';

export const BACKENDS = ['afpacket', 'pcap'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const DEFAULT_BACKEND: BackendName = 'afpacket';

export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

/** Opens `iface` (inside `netns`, if given) with the named backend. */
export function openBackend(name: BackendName, iface: string, options: { netns?: string } = {}): FrameBackend {
  switch (name) {
    case 'afpacket':
      return new AfPacketBackend(iface, options);
    case 'pcap':
      return new PcapBackend(iface, options);
    default:
      throw new NetdumpError('EINVAL', `unknown backend '${String(name)}': choose one of ${BACKENDS.join(', ')}`);
  }
}

export const SHIMS = ['generic', 'em', 'igb', 'vtnet'] as const;
export type ShimName = (typeof SHIMS)[number];

/** Linux's driver name → the FreeBSD driver that runs the same hardware. */
const LINUX_TO_SHIM: Record<string, ShimName> = { e1000: 'em', e1000e: 'em', igb: 'igb', virtio_net: 'vtnet' };

export function shimForLinuxDriver(linuxDriver: string): ShimName {
  return LINUX_TO_SHIM[linuxDriver] ?? 'generic';
}

export function isShimName(name: string): name is ShimName {
  return (SHIMS as readonly string[]).includes(name);
}

/**
 * The shim over `backend`: `name`, or the one that matches the interface's
 * Linux driver. `vtnet` says which release's vtnet to model (13+ unless
 * told otherwise).
 */
export function createDriver(backend: FrameBackend, name?: string, { vtnet = VTNET13 }: { vtnet?: VtnetModel } = {}): NetdumpDriver {
  const shim = name ?? shimForLinuxDriver(backend.facts().linuxDriver);
  switch (shim) {
    case 'generic':
      return new GenericDriver(backend);
    case 'em':
      return new IflibDriver(backend, EM);
    case 'igb':
      return new IflibDriver(backend, IGB);
    case 'vtnet':
      return new VtnetDriver(backend, vtnet);
    default:
      throw new NetdumpError('EINVAL', `unknown driver '${shim}': choose one of ${SHIMS.join(', ')}`);
  }
}
