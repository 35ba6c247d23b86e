/** The check npm start and the benchmarks make: a received vmcore is the synthetic minidump that was sent, byte for byte. */
import { closeSync, openSync, readSync } from 'node:fs';

import { SyntheticMinidump } from '../../src/dump/minidump.js';

/** Throws unless `file` holds exactly the `size`-byte synthetic minidump of `version`. */
export function verifySyntheticVmcore(file: string, size: number, version: 2 | 3): void {
  const fd = openSync(file, 'r');
  const received = Buffer.alloc(64 * 1024);
  try {
    for (const write of new SyntheticMinidump({ size, version }).writes()) {
      const length = readSync(fd, received, 0, write.data.length, write.offset);
      if (length !== write.data.length || Buffer.compare(received.subarray(0, length), write.data) !== 0) {
        throw new Error(`${file} differs from what was sent at offset ${write.offset}`);
      }
    }
    if (readSync(fd, received, 0, 1, size) !== 0) throw new Error(`${file} is longer than what was sent`);
  } finally {
    closeSync(fd);
  }
}
