/** Decrypting a dump body in memory, for tests (the tool, decryptFile, streams files). */
import { bodyCipher, type EkcdKey } from '../../src/dump/ekcd.js';

export function decryptDumpBody(ciphertext: Uint8Array, ekcd: Pick<EkcdKey, 'encryption' | 'key' | 'iv'>): Buffer {
  const decipher = bodyCipher(ekcd.encryption, ekcd.key, ekcd.iv, true);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}
