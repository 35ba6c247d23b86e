import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KERNELDUMPHEADER_SIZE,
  KERNELDUMPMAGIC,
  KERNELDUMPMAGIC_CLEARED,
  KERNELDUMPVERSION,
  KERNELDUMP_AMD64_VERSION,
  KERNELDUMP_COMP_ZSTD,
  KERNELDUMP_ENC_AES_256_CBC,
  KERNELDUMP_ENC_CHACHA20,
  NETDUMP_BLOCKSIZE,
  TEXTDUMPMAGIC,
  emitKerneldumpHeader,
  emitKerneldumpKey,
  kerneldumpKeySize,
  kerneldumpParity,
  parseKerneldumpHeader,
  parseKerneldumpKey,
  kdhArchitectureVersion,
  kdhBlockSize,
  kdhCompression,
  kdhDumpExtent,
  kdhDumpKeySize,
  kdhDumpLength,
  kdhDumpLength64,
  kdhDumpTime,
  kdhParity,
  kdhString,
  kdhVersion,
  kdkEncryptedKey,
  kdkEncryptedKeySize,
  kdkEncryption,
  kdkIv,
  setKdhDumpLength,
  setKdhParity,
  type KerneldumpHeaderRepr,
} from '../../src/wire/index.js';
import { assertBytes, assertWireError, hex } from './wire-helpers.js';

const HEADER: KerneldumpHeaderRepr = {
  magic: KERNELDUMPMAGIC,
  architecture: 'amd64',
  version: KERNELDUMPVERSION,
  architectureVersion: KERNELDUMP_AMD64_VERSION,
  dumpLength: 0x1_2345_6000, // above 2^32
  dumpTime: 1_700_000_000,
  dumpKeySize: 4096,
  blockSize: NETDUMP_BLOCKSIZE,
  hostname: 'crashbox.example.org',
  versionString: 'FreeBSD 13.2-RELEASE releng/13.2-n254617-525ecfdad597 GENERIC\n',
  panicString: 'page fault while in kernel mode',
  compression: KERNELDUMP_COMP_ZSTD,
  dumpExtent: 0x2_0000_0000,
};

// HEADER as 512 bytes, laid out by a python3 struct.pack of the spec §4.1
// table (parity 0x1c61cf7e computed there). Rows of 32 bytes.
const HEADER_BYTES = hex(`
  46726565425344204b65726e656c2044756d7000616d64363400000000000000
  00000004000000020000000123456000000000006553f1000000100000001000
  6372617368626f782e6578616d706c652e6f7267000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  467265654253442031332e322d52454c454153452072656c656e672f31332e32
  2d6e3235343631372d3532356563666461643539372047454e455249430a0000
  0000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  70616765206661756c74207768696c6520696e206b65726e656c206d6f646500
  0000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000
  000000000000000000000000000000020000000200000000000000001c61cf7e`);

function emitHeader(changes: Partial<KerneldumpHeaderRepr> = {}): Uint8Array {
  const buf = new Uint8Array(KERNELDUMPHEADER_SIZE).fill(0xcc); // emit must zero it
  assert.equal(emitKerneldumpHeader({ ...HEADER, ...changes }, buf), 512);
  return buf;
}

test('kerneldumpheader constants', () => {
  assert.equal(KERNELDUMPMAGIC, 'FreeBSD Kernel Dump');
  assert.equal(TEXTDUMPMAGIC, 'FreeBSD Text Dump');
  assert.equal(KERNELDUMPMAGIC_CLEARED, 'Cleared Kernel Dump');
  assert.equal(KERNELDUMPVERSION, 4);
  assert.equal(HEADER_BYTES.length, 512);
});

test('kerneldumpheader emit: the complete 512-byte vector', () => {
  assertBytes(emitHeader(), HEADER_BYTES);
});

test('kerneldumpheader emit at an offset touches only its 512 bytes', () => {
  const buf = new Uint8Array(520).fill(0xcc);
  emitKerneldumpHeader(HEADER, buf, 4);
  assertBytes(buf.subarray(4, 516), HEADER_BYTES);
  assertBytes(buf.subarray(0, 4), hex('cccccccc'));
  assertBytes(buf.subarray(516), hex('cccccccc'));
  assert.equal(kerneldumpParity(buf, 4), 0);
});

test('kerneldumpheader accessors read and write each field where the header lies', () => {
  const buf = new Uint8Array(520).fill(0xcc);
  emitKerneldumpHeader(HEADER, buf, 4);
  assert.deepEqual(
    [
      kdhString(buf, 'magic', 4),
      kdhString(buf, 'architecture', 4),
      kdhVersion(buf, 4),
      kdhArchitectureVersion(buf, 4),
      kdhDumpLength(buf, 4),
      kdhDumpTime(buf, 4),
      kdhDumpKeySize(buf, 4),
      kdhBlockSize(buf, 4),
      kdhString(buf, 'hostname', 4),
      kdhString(buf, 'versionString', 4),
      kdhString(buf, 'panicString', 4),
      kdhCompression(buf, 4),
      kdhDumpExtent(buf, 4),
      kdhParity(buf, 4),
    ],
    [
      HEADER.magic,
      HEADER.architecture,
      HEADER.version,
      HEADER.architectureVersion,
      HEADER.dumpLength,
      HEADER.dumpTime,
      HEADER.dumpKeySize,
      HEADER.blockSize,
      HEADER.hostname,
      HEADER.versionString,
      HEADER.panicString,
      HEADER.compression,
      HEADER.dumpExtent,
      0x1c61cf7e,
    ],
  );
  setKdhDumpLength(buf, 4, 0x10_0000);
  assertBytes(buf.subarray(4 + 40, 4 + 48), hex('00 00 00 00 00 10 00 00'));
  assert.equal(kdhDumpLength64(buf, 4), 0x10_0000n);
  setKdhParity(buf, 4, 0);
  setKdhParity(buf, 4, kerneldumpParity(buf, 4));
  assert.equal(kerneldumpParity(buf, 4), 0);
  assertBytes(buf.subarray(0, 4), hex('cccccccc'));
  assertBytes(buf.subarray(516), hex('cccccccc'));
});

test('kerneldumpheader parse: every field, parity ok, u64 above 2^32', () => {
  assert.deepEqual(parseKerneldumpHeader(HEADER_BYTES), { ...HEADER, unused: 0, parity: 0x1c61cf7e, parityOk: true });
});

test('kerneldumpheader parity both ways', () => {
  assert.equal(kerneldumpParity(HEADER_BYTES), 0);
  for (const index of [0, 44, 200, 495, 511]) {
    const flipped = HEADER_BYTES.slice();
    flipped[index]! ^= 0x10;
    assert.notEqual(kerneldumpParity(flipped), 0);
    assert.equal(parseKerneldumpHeader(flipped).parityOk, false);
  }
  // Recomputing: zero the parity field, XOR the words, store; all words then XOR to 0.
  const changed = HEADER_BYTES.slice();
  changed[100] = 0x41;
  changed.fill(0, 508, 512);
  const parity = kerneldumpParity(changed);
  new DataView(changed.buffer).setUint32(508, parity);
  assert.equal(kerneldumpParity(changed), 0);
  assert.equal(parseKerneldumpHeader(changed).parityOk, true);
});

test('kerneldumpheader parse: strings end at the first NUL or the field end', () => {
  const buf = HEADER_BYTES.slice();
  buf.fill(0x41, 20, 32); // architecture: 12 'A's, no NUL at all
  buf.fill(0x42, 64, 128); // hostname: 64 'B's
  buf[324] = 0; // panic string cut after "page"
  buf[325] = 0x58; // ...and bytes after the NUL are ignored
  const parsed = parseKerneldumpHeader(buf);
  assert.equal(parsed.architecture, 'A'.repeat(12));
  assert.equal(parsed.hostname, 'B'.repeat(64));
  assert.equal(parsed.panicString, 'page');
  assert.equal(parsed.magic, KERNELDUMPMAGIC);
  assert.equal(parsed.parityOk, false);
});

test('kerneldumpheader emit: long strings truncated with NUL termination', () => {
  const buf = emitHeader({ hostname: 'h'.repeat(100), panicString: 'p'.repeat(175), magic: 'm'.repeat(20) });
  assertBytes(buf.subarray(64, 128), new Uint8Array([...'h'.repeat(63)].map((c) => c.charCodeAt(0)).concat(0)));
  assert.equal(buf[320 + 173], 0x70);
  assert.equal(buf[320 + 174], 0);
  assert.equal(buf[495], KERNELDUMP_COMP_ZSTD);
  const parsed = parseKerneldumpHeader(buf);
  assert.equal(parsed.hostname, 'h'.repeat(63));
  assert.equal(parsed.panicString, 'p'.repeat(174));
  assert.equal(parsed.magic, 'm'.repeat(19));
  assert.equal(parsed.parityOk, true);
});

test('kerneldumpheader emit: versionstring truncation forces byte 190 to "\\n" (spec §4.1)', () => {
  const versionAt = (buf: Uint8Array, index: number): number => buf[128 + index]!;
  const exactFit = emitHeader({ versionString: 'v'.repeat(191) });
  assert.equal(versionAt(exactFit, 190), 0x76);
  assert.equal(versionAt(exactFit, 191), 0);
  const oneTooMany = emitHeader({ versionString: 'v'.repeat(192) });
  assert.equal(versionAt(oneTooMany, 189), 0x76);
  assert.equal(versionAt(oneTooMany, 190), 0x0a);
  assert.equal(versionAt(oneTooMany, 191), 0);
  const parsed = parseKerneldumpHeader(emitHeader({ versionString: 'FreeBSD '.repeat(40) }));
  assert.equal(parsed.versionString.length, 191);
  assert.ok(parsed.versionString.endsWith('\n'));
  assert.equal(parsed.versionString.slice(0, 190), 'FreeBSD '.repeat(40).slice(0, 190));
  assert.equal(parsed.parityOk, true);
});

test('kerneldumpheader: an embedded NUL ends a string, as strlcpy would', () => {
  const parsed = parseKerneldumpHeader(emitHeader({ hostname: 'crash\0box' }));
  assert.equal(parsed.hostname, 'crash');
});

test('kerneldumpheader emit rejects out-of-range fields and small buffers', () => {
  const buf = new Uint8Array(512);
  const cases: Array<Partial<KerneldumpHeaderRepr>> = [
    { version: 2 ** 32 },
    { architectureVersion: -1 },
    { dumpLength: 2 ** 53 },
    { dumpTime: -1 },
    { dumpKeySize: 2 ** 32 },
    { blockSize: 0.5 },
    { compression: 256 },
    { dumpExtent: Number.MAX_SAFE_INTEGER + 1 },
  ];
  for (const change of cases) {
    assertWireError(() => emitKerneldumpHeader({ ...HEADER, ...change }, buf), 'range', 'kerneldumpheader');
  }
  assertWireError(() => emitKerneldumpHeader(HEADER, new Uint8Array(511)), 'range', 'kerneldumpheader');
});

test('kerneldumpheader parse: u64 beyond Number.MAX_SAFE_INTEGER is a range error', () => {
  const buf = HEADER_BYTES.slice();
  buf[40] = 0x01; // dumplength high byte
  assertWireError(() => parseKerneldumpHeader(buf), 'range', 'kerneldumpheader');
});

test('kerneldumpheader parse ignores bytes after the first 512', () => {
  const longer = new Uint8Array(600);
  longer.set(HEADER_BYTES);
  longer.fill(0xff, 512);
  assert.equal(parseKerneldumpHeader(longer).parityOk, true);
});

const IV = Uint8Array.from({ length: 32 }, (_, i) => i);
const ENCRYPTED_KEY = Uint8Array.from({ length: 256 }, (_, i) => 0xff - (i & 0xff));

test('kerneldumpkey layout, padded to 4096 (spec §4.5)', () => {
  const buf = new Uint8Array(4096).fill(0xcc);
  const size = emitKerneldumpKey({ encryption: KERNELDUMP_ENC_CHACHA20, iv: IV, encryptedKey: ENCRYPTED_KEY }, buf);
  assert.equal(size, 4096);
  assert.equal(buf[0], 2);
  assertBytes(buf.subarray(1, 33), IV);
  assertBytes(buf.subarray(33, 37), hex('00 00 01 00'));
  assertBytes(buf.subarray(37, 37 + 256), ENCRYPTED_KEY);
  assert.ok(buf.subarray(37 + 256).every((byte) => byte === 0));
});

test('kerneldumpkey parse: key and IV as views', () => {
  const buf = new Uint8Array(4096);
  emitKerneldumpKey({ encryption: KERNELDUMP_ENC_AES_256_CBC, iv: IV, encryptedKey: ENCRYPTED_KEY }, buf);
  const key = parseKerneldumpKey(buf);
  assert.equal(key.encryption, KERNELDUMP_ENC_AES_256_CBC);
  assertBytes(key.iv, IV);
  assertBytes(key.encryptedKey, ENCRYPTED_KEY);
  assert.equal(key.unpaddedSize, 37 + 256);
  assert.equal(key.encryptedKey.buffer, buf.buffer);
  assert.equal(key.encryptedKey.byteOffset, 37);
});

test('kerneldumpkey accessors read a key blob where it lies', () => {
  const buf = new Uint8Array(8 + 4096);
  emitKerneldumpKey({ encryption: KERNELDUMP_ENC_CHACHA20, iv: IV, encryptedKey: ENCRYPTED_KEY }, buf, 8);
  assert.equal(kdkEncryption(buf, 8), KERNELDUMP_ENC_CHACHA20);
  assertBytes(kdkIv(buf, 8), IV);
  assert.equal(kdkEncryptedKeySize(buf, 8), 256);
  assertBytes(kdkEncryptedKey(buf, 8, 256), ENCRYPTED_KEY);
});

test('kerneldumpKeySize rounds up to the block size', () => {
  assert.equal(kerneldumpKeySize(0), 4096);
  assert.equal(kerneldumpKeySize(256), 4096);
  assert.equal(kerneldumpKeySize(2048), 4096);
  assert.equal(kerneldumpKeySize(4096 - 37), 4096);
  assert.equal(kerneldumpKeySize(4096 - 36), 8192);
  assert.equal(kerneldumpKeySize(256, 512), 512);
  assert.equal(kerneldumpKeySize(512 - 37 + 1, 512), 1024);
  assertWireError(() => kerneldumpKeySize(1, 0), 'range', 'kerneldumpkey');
  assertWireError(() => kerneldumpKeySize(-1), 'range', 'kerneldumpkey');
});

test('kerneldumpkey emit with a smaller block size', () => {
  const buf = new Uint8Array(512);
  assert.equal(emitKerneldumpKey({ encryption: 1, iv: IV, encryptedKey: ENCRYPTED_KEY }, buf, 0, 512), 512);
});

test('kerneldumpkey parse rejects unknown encryption and oversized keys', () => {
  const buf = new Uint8Array(4096);
  emitKerneldumpKey({ encryption: KERNELDUMP_ENC_CHACHA20, iv: IV, encryptedKey: ENCRYPTED_KEY }, buf);
  for (const encryption of [0, 3, 255]) {
    const bad = buf.slice();
    bad[0] = encryption;
    assertWireError(() => parseKerneldumpKey(bad), 'malformed', 'kerneldumpkey');
  }
  const oversized = buf.slice();
  oversized.set([0, 0, 0x08, 0x01], 33); // 2049 bytes
  assertWireError(() => parseKerneldumpKey(oversized), 'malformed', 'kerneldumpkey');
  const beyondBlob = buf.slice(0, 100); // says 256 bytes of key, has 63
  assertWireError(() => parseKerneldumpKey(beyondBlob), 'truncated', 'kerneldumpkey');
});

test('kerneldumpkey emit rejects bad fields and small buffers', () => {
  const buf = new Uint8Array(4096);
  const ok = { encryption: KERNELDUMP_ENC_CHACHA20, iv: IV, encryptedKey: ENCRYPTED_KEY };
  assertWireError(() => emitKerneldumpKey({ ...ok, encryption: 0 }, buf), 'range', 'kerneldumpkey');
  assertWireError(() => emitKerneldumpKey({ ...ok, iv: new Uint8Array(16) }, buf), 'range', 'kerneldumpkey');
  assertWireError(() => emitKerneldumpKey({ ...ok, encryptedKey: new Uint8Array(2049) }, buf), 'range', 'kerneldumpkey');
  assertWireError(() => emitKerneldumpKey(ok, new Uint8Array(4095)), 'range', 'kerneldumpkey');
});
