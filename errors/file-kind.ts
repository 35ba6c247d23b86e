/** What a file that is not a regular one is, for the message that refuses it ("dump file X is a FIFO, not a regular file"). */
import type { Stats } from 'node:fs';

export function describeFileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'a file of another kind';
}
