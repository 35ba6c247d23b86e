/**
 * The wire layer's error: always code EBADMSG, plus which protocol layer
 * failed and why, so a caller can count or log drops by cause.
 */
import { NetdumpError } from '../../errors/index.js';

export type WireLayer =
  'bytes' | 'address' | 'checksum' | 'ethernet' | 'arp' | 'ipv4' | 'udp' | 'netdump' | 'netdump-ack' | 'kerneldumpheader' | 'kerneldumpkey';

/**
 * truncated: fewer bytes than the layout needs.
 * malformed: the bytes are there but a field has a value the layout forbids.
 * checksum: a checksum does not verify.
 * range: a value does not fit its field (emit), the output buffer is too
 *        small (emit), or a u64 is beyond what a JS number holds exactly.
 */
export type WireErrorReason = 'truncated' | 'malformed' | 'checksum' | 'range';

export class WireError extends NetdumpError {
  override name = 'WireError';

  constructor(
    readonly layer: WireLayer,
    readonly reason: WireErrorReason,
    detail: string,
  ) {
    super('EBADMSG', `${layer}: ${reason}: ${detail}`);
  }
}

/** Parse side: `buf` must hold at least `need` bytes. */
export function requireLength(layer: WireLayer, buf: Uint8Array, need: number): void {
  if (buf.length < need) {
    throw new WireError(layer, 'truncated', `need ${need} bytes, have ${buf.length}`);
  }
}

/** Emit side: `buf` must have room for `need` bytes starting at `offset`. */
export function requireRoom(layer: WireLayer, buf: Uint8Array, offset: number, need: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new WireError(layer, 'range', `offset ${offset} is not a non-negative integer`);
  }
  if (offset + need > buf.length) {
    throw new WireError(layer, 'range', `buffer too small: need ${need} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
}

/** Emit side: `value` must be an integer in 0..max. */
export function requireUint(layer: WireLayer, field: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new WireError(layer, 'range', `${field} = ${value} is outside 0..${max}`);
  }
}
