/**
 * struct kerneldumpkey, the EKCD key blob (spec §4.5): a packed 37-byte
 * header, the RSA-encrypted one-time key, zeros up to the dumper block size.
 */
import { WireError, requireLength, requireRoom } from './errors.js';
import { readU32BE, readU8, writeU32BE, writeU8 } from './bytes.js';
import {
  KERNELDUMP_ENCKEY_MAX_SIZE,
  KERNELDUMP_ENC_AES_256_CBC,
  KERNELDUMP_ENC_CHACHA20,
  KERNELDUMP_IV_MAX_SIZE,
  NETDUMP_BLOCKSIZE,
} from './kerneldumpheader.js';

export const KDK_ENCRYPTION_OFFSET = 0;
export const KDK_IV_OFFSET = 1;
export const KDK_IV_SIZE = KERNELDUMP_IV_MAX_SIZE;
export const KDK_ENCRYPTEDKEYSIZE_OFFSET = 33;
export const KDK_ENCRYPTEDKEY_OFFSET = 37;
/** Bytes before the encrypted key. */
export const KERNELDUMPKEY_HEADER_SIZE = 37;

/*
 * Field accessors on a key blob at byte `at` (smoltcp's Packet view): the
 * caller checks first that KERNELDUMPKEY_HEADER_SIZE bytes are there. The
 * IV and the encrypted key are views, not copies.
 */
export const kdkEncryption = (blob: Uint8Array, at = 0): number => readU8(blob, at + KDK_ENCRYPTION_OFFSET);
export const kdkIv = (blob: Uint8Array, at = 0): Uint8Array => blob.subarray(at + KDK_IV_OFFSET, at + KDK_IV_OFFSET + KDK_IV_SIZE);
export const kdkEncryptedKeySize = (blob: Uint8Array, at = 0): number => readU32BE(blob, at + KDK_ENCRYPTEDKEYSIZE_OFFSET);
/** The encrypted key of `size` bytes (the caller checks that they are there). */
export const kdkEncryptedKey = (blob: Uint8Array, at: number, size: number): Uint8Array =>
  blob.subarray(at + KDK_ENCRYPTEDKEY_OFFSET, at + KDK_ENCRYPTEDKEY_OFFSET + size);

export const setKdkEncryption = (blob: Uint8Array, at: number, value: number): void => writeU8(blob, at + KDK_ENCRYPTION_OFFSET, value);
export const setKdkIv = (blob: Uint8Array, at: number, iv: Uint8Array): void => blob.set(iv, at + KDK_IV_OFFSET);
export const setKdkEncryptedKey = (blob: Uint8Array, at: number, key: Uint8Array): void => {
  writeU32BE(blob, at + KDK_ENCRYPTEDKEYSIZE_OFFSET, key.length);
  blob.set(key, at + KDK_ENCRYPTEDKEY_OFFSET);
};

export interface KerneldumpKeyRepr {
  /** KERNELDUMP_ENC_AES_256_CBC or KERNELDUMP_ENC_CHACHA20. */
  encryption: number;
  /** 32 bytes. */
  iv: Uint8Array;
  /** The RSA-encrypted key, at most 2048 bytes. */
  encryptedKey: Uint8Array;
}

export interface ParsedKerneldumpKey extends KerneldumpKeyRepr {
  /** Bytes up to the end of the encrypted key (padding excluded). */
  unpaddedSize: number;
}

function isSupportedEncryption(encryption: number): boolean {
  return encryption === KERNELDUMP_ENC_AES_256_CBC || encryption === KERNELDUMP_ENC_CHACHA20;
}

function requireBlockSize(blockSize: number): void {
  if (!Number.isSafeInteger(blockSize) || blockSize <= 0) {
    throw new WireError('kerneldumpkey', 'range', `block size ${blockSize} must be a positive integer`);
  }
}

/** roundup(37 + encryptedKeySize, blockSize): the blob size and KDH.dumpkeysize. */
export function kerneldumpKeySize(encryptedKeySize: number, blockSize = NETDUMP_BLOCKSIZE): number {
  requireBlockSize(blockSize);
  if (!Number.isSafeInteger(encryptedKeySize) || encryptedKeySize < 0) {
    throw new WireError('kerneldumpkey', 'range', `encrypted key size ${encryptedKeySize} must be a non-negative integer`);
  }
  const unpadded = KERNELDUMPKEY_HEADER_SIZE + encryptedKeySize;
  return Math.ceil(unpadded / blockSize) * blockSize;
}

/**
 * Parses a key blob (padding optional and not inspected). `iv` and
 * `encryptedKey` are views into `blob`, not copies.
 */
export function parseKerneldumpKey(blob: Uint8Array): ParsedKerneldumpKey {
  requireLength('kerneldumpkey', blob, KERNELDUMPKEY_HEADER_SIZE);
  const encryption = kdkEncryption(blob);
  if (!isSupportedEncryption(encryption)) {
    throw new WireError('kerneldumpkey', 'malformed', `encryption is ${encryption}, expected 1 (AES-256-CBC) or 2 (ChaCha20)`);
  }
  const keySize = kdkEncryptedKeySize(blob);
  if (keySize > KERNELDUMP_ENCKEY_MAX_SIZE) {
    throw new WireError('kerneldumpkey', 'malformed', `encrypted key size ${keySize} exceeds ${KERNELDUMP_ENCKEY_MAX_SIZE}`);
  }
  const unpaddedSize = KERNELDUMPKEY_HEADER_SIZE + keySize;
  if (blob.length < unpaddedSize) {
    throw new WireError('kerneldumpkey', 'truncated', `a ${keySize}-byte key needs ${unpaddedSize} bytes, have ${blob.length}`);
  }
  return {
    encryption,
    iv: kdkIv(blob),
    encryptedKey: kdkEncryptedKey(blob, 0, keySize),
    unpaddedSize,
  };
}

function validateKerneldumpKey(repr: KerneldumpKeyRepr): void {
  if (!isSupportedEncryption(repr.encryption)) {
    throw new WireError('kerneldumpkey', 'range', `encryption = ${repr.encryption} must be 1 (AES-256-CBC) or 2 (ChaCha20)`);
  }
  if (repr.iv.length !== KDK_IV_SIZE) {
    throw new WireError('kerneldumpkey', 'range', `iv must be ${KDK_IV_SIZE} bytes, got ${repr.iv.length}`);
  }
  if (repr.encryptedKey.length > KERNELDUMP_ENCKEY_MAX_SIZE) {
    throw new WireError(
      'kerneldumpkey',
      'range',
      `encrypted key is ${repr.encryptedKey.length} bytes, at most ${KERNELDUMP_ENCKEY_MAX_SIZE} allowed`,
    );
  }
}

/**
 * Writes the blob at `offset`, zero-padded to a multiple of `blockSize`.
 * Returns bytes written: the padded size, which is KDH.dumpkeysize.
 */
export function emitKerneldumpKey(repr: KerneldumpKeyRepr, buf: Uint8Array, offset = 0, blockSize = NETDUMP_BLOCKSIZE): number {
  validateKerneldumpKey(repr);
  const size = kerneldumpKeySize(repr.encryptedKey.length, blockSize);
  requireRoom('kerneldumpkey', buf, offset, size);
  buf.fill(0, offset, offset + size);
  setKdkEncryption(buf, offset, repr.encryption);
  setKdkIv(buf, offset, repr.iv);
  setKdkEncryptedKey(buf, offset, repr.encryptedKey);
  return size;
}
