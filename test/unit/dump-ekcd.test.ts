import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KERNELDUMP_ENC_AES_256_CBC, KERNELDUMP_ENC_CHACHA20 } from '../../src/wire/kerneldumpheader.js';
import { parseKerneldumpKey } from '../../src/wire/kerneldumpkey.js';
import { DUMP_BLOCK_SIZE, checkedWrites, type DumpSource } from '../../src/dump/source.js';
import { BufferDumpSource } from '../helpers/dump-sources.js';
import { EncryptedDumpSource, createEkcdKey, decryptFile, unwrapEkcdKey, unwrapKeyBlob } from '../../src/dump/ekcd.js';
import { decryptDumpBody } from '../helpers/ekcd.js';
import { assertNetdumpError } from '../helpers/assertions.js';

const rsa2048 = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

function plaintext(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >>> 8)) & 0xff;
  return bytes;
}

function sendAll(source: DumpSource): { body: Buffer; calls: number[] } {
  const body = Buffer.alloc(source.length);
  const calls: number[] = [];
  for (const write of checkedWrites(source)) {
    body.set(write.data, write.offset);
    calls.push(write.data.length);
  }
  return { body, calls };
}

/** One ChaCha20 block as the kernel's chacha.c (D. J. Bernstein's layout) computes it: 64-bit counter, 8-byte nonce. */
function djbChachaBlock(key: Uint8Array, nonce: Uint8Array, counter: number): Buffer {
  const words = (bytes: Uint8Array, count: number) => Array.from({ length: count }, (_, i) => Buffer.from(bytes).readUInt32LE(i * 4));
  const input = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, ...words(key, 8), counter >>> 0, 0, ...words(nonce, 2)];
  const x = [...input];
  const rotl = (v: number, n: number) => ((v << n) | (v >>> (32 - n))) >>> 0;
  const quarter = (a: number, b: number, c: number, d: number) => {
    x[a] = (x[a]! + x[b]!) >>> 0;
    x[d] = rotl(x[d]! ^ x[a], 16);
    x[c] = (x[c]! + x[d]) >>> 0;
    x[b] = rotl(x[b]! ^ x[c], 12);
    x[a] = (x[a] + x[b]) >>> 0;
    x[d] = rotl(x[d] ^ x[a], 8);
    x[c] = (x[c] + x[d]) >>> 0;
    x[b] = rotl(x[b] ^ x[c], 7);
  };
  for (let round = 0; round < 10; round++) {
    quarter(0, 4, 8, 12);
    quarter(1, 5, 9, 13);
    quarter(2, 6, 10, 14);
    quarter(3, 7, 11, 15);
    quarter(0, 5, 10, 15);
    quarter(1, 6, 11, 12);
    quarter(2, 7, 8, 13);
    quarter(3, 4, 9, 14);
  }
  const out = Buffer.alloc(64);
  for (let i = 0; i < 16; i++) out.writeUInt32LE((x[i]! + input[i]!) >>> 0, i * 4);
  return out;
}

test('FreeBSD 12 profile: AES-256-CBC, PKCS#1 v1.5 key wrap, 4096-byte blob', () => {
  const ekcd = createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd12' });
  assert.equal(ekcd.encryption, KERNELDUMP_ENC_AES_256_CBC);
  assert.equal(ekcd.key.length, 64);
  assert.equal(ekcd.iv.length, 32);
  assert.equal(ekcd.blob.length, 4096);
  const parsed = parseKerneldumpKey(ekcd.blob);
  assert.equal(parsed.encryption, KERNELDUMP_ENC_AES_256_CBC);
  assert.deepEqual(Buffer.from(parsed.iv), Buffer.from(ekcd.iv));
  assert.equal(parsed.encryptedKey.length, 256);
  assert.ok(
    ekcd.blob.subarray(37 + 256).every((byte) => byte === 0),
    'zero padding',
  );

  const unwrapped = unwrapEkcdKey(ekcd.blob, rsa2048.privateKey, 'pkcs1');
  assert.deepEqual(Buffer.from(unwrapped.key), Buffer.from(ekcd.key));
  assertNetdumpError(() => unwrapEkcdKey(ekcd.blob, rsa2048.privateKey, 'oaep'), 'EBADMSG');
});

test('FreeBSD 13 profile: ChaCha20 with OAEP key wrap', () => {
  const ekcd = createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd13' });
  assert.equal(ekcd.encryption, KERNELDUMP_ENC_CHACHA20);
  assert.equal(parseKerneldumpKey(ekcd.blob).encryption, KERNELDUMP_ENC_CHACHA20);
  const unwrapped = unwrapEkcdKey(ekcd.blob, rsa2048.privateKey, 'oaep');
  assert.deepEqual(Buffer.from(unwrapped.key), Buffer.from(ekcd.key));
  assert.deepEqual(Buffer.from(unwrapped.iv), Buffer.from(ekcd.iv));
});

test('AES-256-CBC body: one dumper call per 4 KiB, CBC chained across chunks, decrypts with the unwrapped key', () => {
  const plain = plaintext(3 * 65536 + 5000);
  const ekcd = createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd12' });
  const source = new EncryptedDumpSource(new BufferDumpSource(plain), ekcd);
  assert.equal(source.length, 3 * 65536 + 8192, 'padded length: the last cipher block must stay whole');
  const { body, calls } = sendAll(source);
  assert.ok(calls.every((length) => length === DUMP_BLOCK_SIZE));
  assert.equal(calls.length, source.length / DUMP_BLOCK_SIZE);

  // The kernel's way: each 4 KiB chunk encrypted alone, IV = last ciphertext block of the previous one.
  let iv = Buffer.from(ekcd.iv.subarray(0, 16));
  const padded = Buffer.concat([plain, Buffer.alloc(source.length - plain.length)]);
  for (let offset = 0; offset < padded.length; offset += DUMP_BLOCK_SIZE) {
    const cipher = createCipheriv('aes-256-cbc', ekcd.key.subarray(0, 32), iv).setAutoPadding(false);
    const chunk = cipher.update(padded.subarray(offset, offset + DUMP_BLOCK_SIZE));
    assert.ok(chunk.equals(body.subarray(offset, offset + DUMP_BLOCK_SIZE)), `chunk at ${offset}`);
    iv = chunk.subarray(DUMP_BLOCK_SIZE - 16);
  }

  const key = unwrapEkcdKey(ekcd.blob, rsa2048.privateKey, 'pkcs1');
  const decrypted = decryptDumpBody(body, key);
  assert.ok(decrypted.subarray(0, plain.length).equals(plain));
  assert.ok(decrypted.subarray(plain.length).every((byte) => byte === 0));
});

test('ChaCha20 body: a stream with the kernel nonce layout, decrypts with the unwrapped key', () => {
  const plain = plaintext(2 * 65536);
  const ekcd = createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd13' });
  const { body, calls } = sendAll(new EncryptedDumpSource(new BufferDumpSource(plain), ekcd));
  assert.equal(calls.length, 32);

  // Keystream = chacha(key[0..32), nonce = kdk_iv[0..8), counter from 0), as chacha_ivsetup(iv, NULL) sets it up.
  for (const block of [0, 1, 64, 2047]) {
    const keystream = djbChachaBlock(ekcd.key.subarray(0, 32), ekcd.iv.subarray(0, 8), block);
    const offset = block * 64;
    const expected = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) expected[i] = plain[offset + i]! ^ keystream[i]!;
    assert.ok(expected.equals(body.subarray(offset, offset + 64)), `keystream block ${block}`);
  }

  const key = unwrapEkcdKey(ekcd.blob, rsa2048.privateKey, 'oaep');
  assert.ok(decryptDumpBody(body, key).equals(plain));
});

test('kernelWritePattern: false keeps the inner call sizes', () => {
  const ekcd = createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd13' });
  const plain = plaintext(65536 + 4096);
  const { body, calls } = sendAll(new EncryptedDumpSource(new BufferDumpSource(plain), ekcd, { kernelWritePattern: false }));
  assert.deepEqual(calls, [65536, 4096]);
  assert.ok(decryptDumpBody(body, ekcd).equals(plain));
});

test('EKCD refuses what the kernel or dumpon refuses', () => {
  assertNetdumpError(
    () => createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd12', encryption: KERNELDUMP_ENC_CHACHA20 }),
    'EINVAL',
    'ChaCha20',
  );
  assertNetdumpError(() => createEkcdKey({ publicKey: rsa2048.publicKey, encryption: 7 }), 'EINVAL');
  assertNetdumpError(() => createEkcdKey({ publicKey: 'not a key' }), 'EINVAL', 'public key');
  const small = generateKeyPairSync('rsa', {
    modulusLength: 1024,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  assertNetdumpError(() => createEkcdKey({ publicKey: small.publicKey, profile: 'freebsd13' }), 'EINVAL', '2048');
  assert.equal(createEkcdKey({ publicKey: small.publicKey, profile: 'freebsd12' }).blob.length, 4096);
  assertNetdumpError(() => createEkcdKey({ publicKey: rsa2048.publicKey, key: new Uint8Array(32) }), 'EINVAL', '64 bytes');
});

test('decryptFile (netdump decrypt): the core back from the key file; a core cut mid-block leaves no output behind', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-decrypt-'));
  try {
    const ekcd = createEkcdKey({ publicKey: rsa2048.publicKey, profile: 'freebsd12', encryption: KERNELDUMP_ENC_AES_256_CBC });
    const plain = Buffer.alloc(3 * DUMP_BLOCK_SIZE, 0x5a);
    const encrypted = Buffer.concat(
      [...new EncryptedDumpSource(new BufferDumpSource(plain), ekcd).writes()].map((write) => Buffer.from(write.data)),
    );
    writeFileSync(path.join(dir, 'core'), encrypted);
    const privateKey = rsa2048.privateKey;
    const result = decryptFile(unwrapKeyBlob(ekcd.blob, privateKey), path.join(dir, 'core'), path.join(dir, 'plain'));
    assert.deepEqual(result, { encryption: KERNELDUMP_ENC_AES_256_CBC, bytes: plain.length });
    assert.deepEqual(readFileSync(path.join(dir, 'plain')), plain);
    writeFileSync(path.join(dir, 'cut'), encrypted.subarray(0, encrypted.length - 5));
    assert.throws(() => decryptFile(unwrapKeyBlob(ekcd.blob, privateKey), path.join(dir, 'cut'), path.join(dir, 'cut-plain')), {
      code: 'ERR_OSSL_WRONG_FINAL_BLOCK_LENGTH',
    });
    assert.equal(existsSync(path.join(dir, 'cut-plain')), false, 'no partial plaintext left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
