/**
 * Encrypted kernel crash dumps (EKCD, spec §4.4–§4.5): a one-time key
 * wrapped with the operator's RSA public key into the kerneldumpkey blob,
 * and a DumpSource wrapper that encrypts the body as the kernel does.
 *
 * Facts this follows (FreeBSD sources):
 * - dumpon fills all of kda_key (KERNELDUMP_KEY_MAX_SIZE = 64 bytes) with
 *   random bytes and RSA-encrypts the whole array; decryptcore insists the
 *   unwrapped key is exactly 64 bytes. The ciphers use its first 32 bytes.
 * - The kernel keeps a 32-byte IV (kdk_iv). AES-256-CBC uses its first 16
 *   bytes; ChaCha20 (13+) uses its first 8 as the nonce with a 64-bit block
 *   counter starting at 0 (decryptcore: OpenSSL IV = 8 zero bytes + kdk_iv[0..8)).
 * - dump_encrypted_write encrypts in KERNELDUMP_BUFFER_SIZE (4 KiB) chunks
 *   and calls the dumper once per chunk; CBC chains the last ciphertext
 *   block into the next chunk, ChaCha20 runs as one stream. Both equal one
 *   continuous cipher over the body.
 * - Key wrap: PKCS#1 v1.5 in 12.x dumpon, OAEP (SHA-1, OpenSSL's default)
 *   in 13+, which also refuses RSA keys under 2048 bits.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import {
  constants as cryptoConstants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { NetdumpError } from '../../errors/index.js';
import {
  KERNELDUMP_BUFFER_SIZE,
  KERNELDUMP_ENCKEY_MAX_SIZE,
  KERNELDUMP_ENC_AES_256_CBC,
  KERNELDUMP_ENC_CHACHA20,
  KERNELDUMP_IV_MAX_SIZE,
  KERNELDUMP_KEY_MAX_SIZE,
} from '../wire/kerneldumpheader.js';
import { emitKerneldumpKey, kerneldumpKeySize, parseKerneldumpKey } from '../wire/kerneldumpkey.js';
import { isFreeBSD12, type KernelProfile } from './kdh.js';
import { roundUpToBlock, type DumpSource, type DumpWrite } from './source.js';

export type KeyWrapPadding = 'pkcs1' | 'oaep';

/** Smallest RSA modulus 13+ dumpon accepts (112 security bits). */
export const MIN_RSA_BITS_13 = 2048;
const CIPHER_KEY_BYTES = 32;
const AES_IV_BYTES = 16;
const CHACHA_NONCE_BYTES = 8;

export interface EkcdKeyOptions {
  /** The operator's RSA public key: PEM text, or a KeyObject. */
  publicKey: string | Buffer | KeyObject;
  /** freebsd12: AES-256-CBC with PKCS#1 v1.5; otherwise ChaCha20 with OAEP. */
  profile?: KernelProfile;
  /** KERNELDUMP_ENC_AES_256_CBC or KERNELDUMP_ENC_CHACHA20 (13+ only). */
  encryption?: number;
  keyWrapPadding?: KeyWrapPadding;
  /** 64 bytes; random if absent. */
  key?: Uint8Array;
  /** 32 bytes; random if absent. */
  iv?: Uint8Array;
}

export interface EkcdKey {
  encryption: number;
  /** The 64-byte key material that was wrapped; the cipher key is its first 32 bytes. */
  key: Uint8Array;
  /** kdk_iv, 32 bytes. */
  iv: Uint8Array;
  encryptedKey: Uint8Array;
  /** struct kerneldumpkey padded to 4096: the EKCD_KEY payload; its length is KDH.dumpkeysize. */
  blob: Uint8Array;
}

function requireLength(name: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) {
    throw new NetdumpError('EINVAL', `EKCD ${name} must be ${length} bytes, got ${bytes.length}`);
  }
}

/** The cipher dumpon picks without -C: AES-256-CBC in 12.x (its only one), ChaCha20 in 13+. */
export function defaultEncryption(profile: KernelProfile | undefined): number {
  return isFreeBSD12(profile) ? KERNELDUMP_ENC_AES_256_CBC : KERNELDUMP_ENC_CHACHA20;
}

function encryptionFor(options: EkcdKeyOptions): number {
  const freebsd12 = isFreeBSD12(options.profile);
  const encryption = options.encryption ?? defaultEncryption(options.profile);
  if (encryption === KERNELDUMP_ENC_CHACHA20 && freebsd12) {
    throw new NetdumpError('EINVAL', 'ChaCha20 dump encryption exists only in FreeBSD 13 and later; FreeBSD 12 has AES-256-CBC only');
  }
  if (encryption !== KERNELDUMP_ENC_AES_256_CBC && encryption !== KERNELDUMP_ENC_CHACHA20) {
    throw new NetdumpError('EINVAL', `unknown dump encryption ${encryption}: use 1 (AES-256-CBC) or 2 (ChaCha20)`);
  }
  return encryption;
}

function rsaPublicKey(publicKey: EkcdKeyOptions['publicKey']): KeyObject {
  let key: KeyObject;
  try {
    key = typeof publicKey === 'string' || Buffer.isBuffer(publicKey) ? createPublicKey(publicKey) : publicKey;
  } catch (error) {
    throw new NetdumpError('EINVAL', `cannot read the EKCD public key: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new NetdumpError('EINVAL', `the EKCD public key must be RSA, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

function paddingConstant(padding: KeyWrapPadding): number {
  return padding === 'pkcs1' ? cryptoConstants.RSA_PKCS1_PADDING : cryptoConstants.RSA_PKCS1_OAEP_PADDING;
}

/** Makes a one-time key and IV and wraps them into the kerneldumpkey blob, as dumpon and kerneldumpcrypto_create do. */
export function createEkcdKey(options: EkcdKeyOptions): EkcdKey {
  const encryption = encryptionFor(options);
  const publicKey = rsaPublicKey(options.publicKey);
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (!isFreeBSD12(options.profile) && bits < MIN_RSA_BITS_13) {
    throw new NetdumpError('EINVAL', `the EKCD public key has ${bits} bits; FreeBSD 13+ dumpon requires at least ${MIN_RSA_BITS_13}`);
  }
  const key = options.key ?? randomBytes(KERNELDUMP_KEY_MAX_SIZE);
  const iv = options.iv ?? randomBytes(KERNELDUMP_IV_MAX_SIZE);
  requireLength('key', key, KERNELDUMP_KEY_MAX_SIZE);
  requireLength('IV', iv, KERNELDUMP_IV_MAX_SIZE);
  const padding = options.keyWrapPadding ?? (isFreeBSD12(options.profile) ? 'pkcs1' : 'oaep');
  const encryptedKey = publicEncrypt({ key: publicKey, padding: paddingConstant(padding) }, key);
  if (encryptedKey.length > KERNELDUMP_ENCKEY_MAX_SIZE) {
    throw new NetdumpError(
      'EINVAL',
      `the wrapped key is ${encryptedKey.length} bytes; at most ${KERNELDUMP_ENCKEY_MAX_SIZE} (a 16384-bit RSA key) fit`,
    );
  }
  const blob = new Uint8Array(kerneldumpKeySize(encryptedKey.length));
  emitKerneldumpKey({ encryption, iv, encryptedKey }, blob);
  return { encryption, key, iv, encryptedKey, blob };
}

/** The part of node's Cipher and Decipher that the body needs. */
interface BodyCipher {
  update(data: Uint8Array): Buffer;
  final(): Buffer;
}

/** A cipher (or decipher) positioned at the start of the dump body. */
export function bodyCipher(encryption: number, key: Uint8Array, iv: Uint8Array, decrypt: boolean): BodyCipher {
  const cipherKey = key.subarray(0, CIPHER_KEY_BYTES);
  const create = (name: string, cipherIv: Uint8Array) => {
    const cipher = decrypt ? createDecipheriv(name, cipherKey, cipherIv) : createCipheriv(name, cipherKey, cipherIv);
    cipher.setAutoPadding(false);
    return cipher;
  };
  if (encryption === KERNELDUMP_ENC_AES_256_CBC) {
    return create('aes-256-cbc', iv.subarray(0, AES_IV_BYTES));
  }
  if (encryption === KERNELDUMP_ENC_CHACHA20) {
    const counterAndNonce = new Uint8Array(16);
    counterAndNonce.set(iv.subarray(0, CHACHA_NONCE_BYTES), 8);
    return create('chacha20', counterAndNonce);
  }
  throw new NetdumpError('EINVAL', `unknown dump encryption ${encryption}`);
}

export interface EncryptedDumpOptions {
  /**
   * true (default): one dumper call per 4 KiB chunk, as dump_encrypted_write
   * makes them. false: keep the inner source's call sizes.
   */
  kernelWritePattern?: boolean;
}

/**
 * The inner source's bytes encrypted. Its length is the inner length
 * rounded up to 4096: the padded last block is encrypted and must be kept
 * whole for AES-CBC to decrypt.
 */
export class EncryptedDumpSource implements DumpSource {
  readonly length: number;
  /** The plaintext each dumper call encrypts: dump_encrypted_write's 4 KiB, or the inner call whole. */
  private readonly chunk: number;

  constructor(
    readonly inner: DumpSource,
    readonly ekcd: Pick<EkcdKey, 'encryption' | 'key' | 'iv'>,
    options: EncryptedDumpOptions = {},
  ) {
    this.length = roundUpToBlock(inner.length);
    this.chunk = options.kernelWritePattern === false ? Infinity : KERNELDUMP_BUFFER_SIZE;
  }

  /** Encryption keeps lengths: what the inner (compressed) source says of itself holds for its ciphertext. */
  get consumed(): number | undefined {
    return this.inner.consumed;
  }

  get sentLength(): number | undefined {
    return this.inner.sentLength;
  }

  get writeSize(): number | undefined {
    return Number.isFinite(this.chunk) ? this.chunk : this.inner.writeSize;
  }

  *writes(): Generator<DumpWrite> {
    const cipher = bodyCipher(this.ekcd.encryption, this.ekcd.key, this.ekcd.iv, false);
    for (const write of this.inner.writes()) {
      for (let start = 0; start < write.data.length; start += this.chunk) {
        const plain = write.data.subarray(start, start + this.chunk);
        yield { offset: write.offset + start, data: cipher.update(plain) };
      }
    }
  }
}

/**
 * Strips PKCS#1 v1.5 type-2 padding (00 02 nonzero… 00 message). Node 20
 * refuses RSA_PKCS1_PADDING for private decryption, so the key is
 * decrypted raw and unpadded here. Not constant-time: for offline
 * recovery only, never as a network-facing oracle.
 */
function stripPkcs1Padding(block: Buffer): Buffer {
  const separator = block.indexOf(0, 2);
  if (block[0] !== 0 || block[1] !== 2 || separator < 10) {
    throw new NetdumpError('EBADMSG', 'EKCD key does not unwrap with this private key (bad PKCS#1 v1.5 padding)');
  }
  return block.subarray(separator + 1);
}

/** What decryptcore does first: recover the 64-byte key from a key blob with the private key. */
export function unwrapEkcdKey(blob: Uint8Array, privateKey: string | Buffer | KeyObject, padding: KeyWrapPadding): EkcdKey {
  const parsed = parseKerneldumpKey(blob);
  const key = typeof privateKey === 'string' || Buffer.isBuffer(privateKey) ? createPrivateKey(privateKey) : privateKey;
  let unwrapped: Buffer;
  try {
    unwrapped =
      padding === 'oaep'
        ? privateDecrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING }, parsed.encryptedKey)
        : stripPkcs1Padding(privateDecrypt({ key, padding: cryptoConstants.RSA_NO_PADDING }, parsed.encryptedKey));
  } catch (error) {
    if (error instanceof NetdumpError) throw error;
    throw new NetdumpError(
      'EBADMSG',
      `EKCD key does not unwrap with this private key: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (unwrapped.length !== KERNELDUMP_KEY_MAX_SIZE) {
    throw new NetdumpError('EBADMSG', `EKCD key unwrapped to ${unwrapped.length} bytes, expected ${KERNELDUMP_KEY_MAX_SIZE}`);
  }
  return {
    encryption: parsed.encryption,
    key: unwrapped,
    iv: Uint8Array.from(parsed.iv),
    encryptedKey: Uint8Array.from(parsed.encryptedKey),
    blob,
  };
}

/**
 * decryptcore's job, once the key is unwrapped (unwrapKeyBlob): decrypts
 * `input` into `output`, which must not exist, a MiB at a time. Returns
 * the cipher and the bytes written.
 */
export function decryptFile(ekcd: EkcdKey, input: string, output: string): { encryption: number; bytes: number } {
  const decipher = bodyCipher(ekcd.encryption, ekcd.key, ekcd.iv, true);
  const chunk = Buffer.alloc(DECRYPT_CHUNK);
  const from = openSync(input, 'r');
  let to: number | undefined;
  let bytes = 0;
  try {
    to = openSync(output, 'wx', 0o600);
    for (let read = readSync(from, chunk); read > 0; read = readSync(from, chunk)) {
      bytes += writeAll(to, decipher.update(chunk.subarray(0, read)));
    }
    bytes += writeAll(to, decipher.final());
  } catch (error) {
    // A partial plaintext is not the core: remove what this call created.
    if (to !== undefined) rmSync(output, { force: true });
    throw error;
  } finally {
    closeSync(from);
    if (to !== undefined) closeSync(to);
  }
  return { encryption: ekcd.encryption, bytes };
}

const DECRYPT_CHUNK = 2 ** 20;

function writeAll(fd: number, data: Uint8Array): number {
  for (let written = 0; written < data.length;) written += writeSync(fd, data, written);
  return data.length;
}

/** A key file's key, unwrapped with OAEP as 13+ wraps it, else PKCS#1 v1.5 as 12.x does. */
export function unwrapKeyBlob(keyBlob: Uint8Array, privateKey: string | KeyObject): EkcdKey {
  try {
    return unwrapEkcdKey(keyBlob, privateKey, 'oaep');
  } catch {
    return unwrapEkcdKey(keyBlob, privateKey, 'pkcs1');
  }
}
