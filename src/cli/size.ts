/** Sizes on the command line: "256M", "1G", "64K", "65536". */
import { NetdumpError } from '../../errors/index.js';
import { DUMP_BLOCK_SIZE } from '../dump/source.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** Bytes for a size such as 256M; a positive multiple of the dump block size (4096). */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)(?:i?B)?$/i.exec(text.trim());
  if (!match) throw new NetdumpError('EINVAL', `'${text}' is not a size such as 256M`);
  const size = Number(match[1]) * UNITS[match[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(size) || size <= 0 || size % DUMP_BLOCK_SIZE !== 0) {
    throw new NetdumpError('EINVAL', `${text} is not a positive multiple of ${DUMP_BLOCK_SIZE} bytes`);
  }
  return size;
}
